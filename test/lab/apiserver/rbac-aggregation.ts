/**
 * What Kubernetes' clusterrole-aggregation controller writes into ClusterRoles that have an `aggregationRule`
 * (pkg/controller/clusterroleaggregation): for each selector in order, the ClusterRoles whose labels match it,
 * sorted by name, itself excluded, contribute their rules, each rule once (deep equality). The result replaces
 * the aggregated role's `rules`. Pure; returns new objects and never modifies its input.
 *
 * The authorizer (rbac.ts) does not aggregate, like Kubernetes': it reads `rules` as stored. The real
 * controller runs asynchronously and re-syncs every aggregated role whenever any ClusterRole changes, so
 * chains (A aggregates B, which aggregates C) settle after a few rounds; `aggregateClusterRoles` runs rounds
 * until nothing changes, which is the state the controller settles in.
 *
 * Label selectors are metav1.LabelSelector: matchLabels plus matchExpressions (In, NotIn, Exists,
 * DoesNotExist); an empty selector matches every ClusterRole. A selector LabelSelectorAsSelector rejects
 * (unknown operator, In/NotIn without values, Exists/DoesNotExist with values, a malformed field) makes the
 * controller fail that role's sync, which then keeps its stored rules; the problem is reported.
 */
import { isRecord } from '../../../src/model/compare.ts';


type LabelMatcher = (labels: Record<string, unknown>) => boolean;

function selectorMatcher(selector: unknown): LabelMatcher | string {
  if (!isRecord(selector)) return 'a clusterRoleSelector is not an object';
  const checks: LabelMatcher[] = [];
  const matchLabels = selector['matchLabels'];
  if (matchLabels !== undefined && matchLabels !== null) {
    if (!isRecord(matchLabels)) return 'matchLabels is not an object';
    for (const [key, value] of Object.entries(matchLabels)) {
      if (typeof value !== 'string') return `matchLabels[${JSON.stringify(key)}] is not a string`;
      checks.push((labels) => labels[key] === value);
    }
  }
  const expressions = selector['matchExpressions'];
  if (expressions !== undefined && expressions !== null) {
    if (!Array.isArray(expressions)) return 'matchExpressions is not a list';
    for (const expression of expressions) {
      if (!isRecord(expression) || typeof expression['key'] !== 'string' || typeof expression['operator'] !== 'string') {
        return 'a matchExpression needs a string key and operator';
      }
      const key = expression['key'];
      const rawValues = expression['values'] ?? [];
      if (!Array.isArray(rawValues) || !rawValues.every((v) => typeof v === 'string')) return `values of ${JSON.stringify(key)} are not strings`;
      const values = new Set(rawValues as string[]);
      const has = (labels: Record<string, unknown>) => typeof labels[key] === 'string';
      switch (expression['operator']) {
        case 'In':
          if (values.size === 0) return `for 'In' the values of ${JSON.stringify(key)} can't be empty`;
          checks.push((labels) => has(labels) && values.has(labels[key] as string));
          break;
        case 'NotIn':
          if (values.size === 0) return `for 'NotIn' the values of ${JSON.stringify(key)} can't be empty`;
          checks.push((labels) => !has(labels) || !values.has(labels[key] as string));
          break;
        case 'Exists':
          if (values.size > 0) return `for 'Exists' the values of ${JSON.stringify(key)} must be empty`;
          checks.push(has);
          break;
        case 'DoesNotExist':
          if (values.size > 0) return `for 'DoesNotExist' the values of ${JSON.stringify(key)} must be empty`;
          checks.push((labels) => !has(labels));
          break;
        default:
          return `${JSON.stringify(expression['operator'])} is not a valid label selector operator`;
      }
    }
  }
  return (labels) => checks.every((check) => check(labels));
}

function nameOf(role: Record<string, unknown>): string | undefined {
  const metadata = role['metadata'];
  return isRecord(metadata) && typeof metadata['name'] === 'string' ? metadata['name'] : undefined;
}

function labelsOf(role: Record<string, unknown>): Record<string, unknown> {
  const metadata = role['metadata'];
  return isRecord(metadata) && isRecord(metadata['labels']) ? metadata['labels'] : {};
}

/** Deep equality of JSON values, as equality.Semantic.DeepEqual compares decoded PolicyRules. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isRecord(a) && isRecord(b)) {
    // Absent, null and [] decode the same in Go (a nil slice); treat them alike.
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => jsonEqual(normalizeEmpty(a[k]), normalizeEmpty(b[k])));
  }
  return false;
}

const normalizeEmpty = (v: unknown) => (v === null || (Array.isArray(v) && v.length === 0) ? undefined : v);

/** One controller round: the rules each aggregated role would get from the current roles. */
function aggregateOnce(roles: Record<string, unknown>[], problems: Set<string>): Record<string, unknown>[] {
  const byName = roles
    .map((role) => ({ role, name: nameOf(role) }))
    .filter((r): r is { role: Record<string, unknown>; name: string } => r.name !== undefined)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return roles.map((role) => {
    const rule = role['aggregationRule'];
    if (rule === undefined || rule === null) return role;
    const name = nameOf(role) ?? '(unnamed)';
    const selectors = isRecord(rule) ? rule['clusterRoleSelectors'] ?? [] : undefined;
    if (!Array.isArray(selectors)) {
      problems.add(`ClusterRole "${name}": aggregationRule.clusterRoleSelectors is not a list; rules kept as stored`);
      return role;
    }
    const rules: unknown[] = [];
    for (const selector of selectors) {
      const matches = selectorMatcher(selector);
      if (typeof matches === 'string') {
        problems.add(`ClusterRole "${name}": ${matches}; rules kept as stored`);
        return role;
      }
      for (const other of byName) {
        if (other.name === nameOf(role) || !matches(labelsOf(other.role))) continue;
        const otherRules = Array.isArray(other.role['rules']) ? other.role['rules'] : [];
        for (const r of otherRules) if (!rules.some((seen) => jsonEqual(seen, r))) rules.push(r);
      }
    }
    return { ...role, rules: structuredClone(rules) };
  });
}

/**
 * The ClusterRoles as the aggregation controller leaves them: every one with an aggregationRule gets the
 * rules of the ClusterRoles its selectors pick. Non-objects are passed through untouched.
 */
export function aggregateClusterRoles(clusterRoles: readonly unknown[]): { clusterRoles: unknown[]; problems: string[] } {
  const problems = new Set<string>();
  const objects = clusterRoles.filter(isRecord);
  let current = objects;
  // Each round can only push rules one link further down a chain; more rounds than roles means a cycle that
  // does not settle (the real controller would keep rewriting those roles).
  for (let round = 0; round <= objects.length; round++) {
    const next = aggregateOnce(current, problems);
    if (next.every((role, i) => jsonEqual(role['rules'], current[i]?.['rules']))) {
      current = next;
      break;
    }
    current = next;
    if (round === objects.length) problems.add('aggregated ClusterRoles did not settle (a selector cycle?); the last round is returned');
  }
  let i = 0;
  return { clusterRoles: clusterRoles.map((role) => (isRecord(role) ? current[i++] : role)), problems: [...problems] };
}
