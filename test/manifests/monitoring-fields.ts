/**
 * Unknown fields of the monitoring kinds (PodMonitor, PrometheusRule). client-node has no models for
 * them and prometheus-operator's generated validators let unknown fields through, but the package's
 * type declarations list every field: the TypeScript checker reads them (extends, imports and all) and
 * the object is walked along them, as unknown-fields.ts walks built-in kinds along client-node's models.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { isRecord } from '../../src/model/compare.ts';

const PACKAGE = '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
/** The kinds and the interface that declares each. */
const ROOTS: Readonly<Record<string, { module: string; type: string }>> = {
  PodMonitor: { module: `${PACKAGE}/PodMonitor`, type: 'IPodMonitor' },
  PrometheusRule: { module: `${PACKAGE}/PrometheusRule`, type: 'IPrometheusRule' },
};

export interface MonitoringTypes {
  /** The kinds it knows. */
  kinds: readonly string[];
  /** One `path: unknown field` per field the kind's declaration lacks. */
  unknownFields(kind: string, object: unknown): string[];
}

/**
 * Builds the checker once (about a second: it reads the package's declarations); the walk itself is
 * cheap. A virtual file beside this one imports the root interfaces, so module resolution is the project's.
 */
export function loadMonitoringTypes(): MonitoringTypes {
  const here = dirname(fileURLToPath(import.meta.url));
  const rootFile = join(here, '__monitoring-roots.ts');
  const source = Object.entries(ROOTS).map(([kind, { module, type }]) => `import type { ${type} as ${kind} } from '${module}';`).join('\n')
    + `\nexport interface Roots { ${Object.keys(ROOTS).map((kind) => `${kind}: ${kind};`).join(' ')} }\n`;
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
    noEmit: true, skipLibCheck: true, types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError) => (name === rootFile ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, onError));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === rootFile || fileExists(name);
  const program = ts.createProgram({ rootNames: [rootFile], options, host });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(rootFile);
  const diagnostics = ts.getPreEmitDiagnostics(program, file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (diagnostics.length > 0) throw new Error(`cannot read ${PACKAGE}'s declarations: ${diagnostics.join('; ')}`);
  const roots = file?.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Roots');
  if (roots === undefined) throw new Error('the virtual roots file has no Roots interface');
  const rootType = checker.getTypeAtLocation(roots);

  const objectTypes = (type: ts.Type): ts.Type[] => (type.isUnion() ? type.types : [type])
    .filter((t) => (t.flags & ts.TypeFlags.Object) !== 0 || t.isIntersection());

  const walk = (value: unknown, type: ts.Type, path: string): string[] => {
    const candidates = objectTypes(type);
    if (Array.isArray(value)) {
      const array = candidates.find((t) => checker.isArrayType(t));
      const element = array === undefined ? undefined : checker.getTypeArguments(array as ts.TypeReference)[0];
      return element === undefined ? [] : value.flatMap((item, i) => walk(item, element, `${path}[${i}]`));
    }
    if (!isRecord(value)) return [];
    const records = candidates.filter((t) => !checker.isArrayType(t));
    if (records.length === 0) return [];
    const indexed = records.map((t) => checker.getIndexTypeOfType(t, ts.IndexKind.String)).find((t) => t !== undefined);
    const properties = new Map<string, ts.Symbol>();
    for (const t of records) for (const p of checker.getPropertiesOfType(t)) properties.set(p.name, p);
    const problems: string[] = [];
    for (const [key, child] of Object.entries(value)) {
      const property = properties.get(key);
      if (property !== undefined) problems.push(...walk(child, checker.getTypeOfSymbol(property), `${path}.${key}`));
      else if (indexed !== undefined) problems.push(...walk(child, indexed, `${path}.${key}`));
      else problems.push(`${path}.${key}: unknown field (not in ${checker.typeToString(records[0]!)})`);
    }
    return problems;
  };

  return {
    kinds: Object.keys(ROOTS),
    unknownFields(kind, object) {
      const root = checker.getPropertyOfType(rootType, kind);
      if (root === undefined) return [`/: no declaration for kind ${kind}`];
      return walk(object, checker.getTypeOfSymbol(root), '');
    },
  };
}
