/**
 * The environment variables seaway's configuration reads, per command, taken from its own help text
 * (src/config.ts helpText(), what `seaway --help` prints), so the manifests are checked against the
 * code and not against a copy of it.
 */
import { helpText } from '../../src/config.ts';

export interface AgentSettings {
  /** Variables of settings `run` and `gateway` share. */
  shared: ReadonlySet<string>;
  run: ReadonlySet<string>;
  gateway: ReadonlySet<string>;
  /** Read by `seaway uninstall` only (it also reads shared, run's, gateway's and diagnose's). */
  uninstall: ReadonlySet<string>;
  diagnose: ReadonlySet<string>;
  /** Every variable of any command. */
  all: ReadonlySet<string>;
}

/** Section headers by how they start (some go on with a parenthesis over two lines). */
const SECTIONS = [
  ['Settings of run and gateway:', 'shared'], ['Settings of run only:', 'run'], ['Settings of gateway only:', 'gateway'],
  ['Settings of uninstall only', 'uninstall'], ['Settings of diagnose only', 'diagnose'],
] as const;
type Section = (typeof SECTIONS)[number][1];

/**
 * Reads the sections of a help text: under each "Settings of ..." header, a setting's variables are on
 * an `env: A, B` line (a setting with a flag) or an `env A, B` line (a variable-only setting). Throws when
 * a section is missing or empty, so a changed help layout fails loudly instead of allowing nothing.
 */
export function parseAgentSettings(text: string): AgentSettings {
  const found: Record<Section, Set<string>> = { shared: new Set(), run: new Set(), gateway: new Set(), uninstall: new Set(), diagnose: new Set() };
  let section: Section | null = null;
  // A header may go on over more lines, until one ends with ':'.
  let continuing = false;
  for (const line of text.split('\n')) {
    if (continuing) { continuing = !line.trimEnd().endsWith(':'); continue; }
    const header = SECTIONS.find(([start]) => line.trim().startsWith(start))?.[1];
    if (header !== undefined) { section = header; continuing = !line.trimEnd().endsWith(':'); continue; }
    // Any other unindented line is another header: it ends the section (e.g. the flags' own).
    if (/^\S/.test(line)) { section = null; continuing = !line.trimEnd().endsWith(':'); continue; }
    if (section === null) continue;
    const env = /^\s+env:? ([A-Z0-9_]+(?:, [A-Z0-9_]+)*)\s*$/.exec(line);
    if (env) for (const name of env[1]!.split(', ')) found[section].add(name);
  }
  // The agents' three must be there; diagnose's and uninstall's sections only add to what those commands may read.
  for (const [name, set] of Object.entries(found).filter(([key]) => key === 'shared' || key === 'run' || key === 'gateway')) {
    if (set.size === 0) throw new Error(`the help text has no settings in its "${name}" section: its layout changed, update agent-settings.ts`);
  }
  return { ...found, all: new Set(Object.values(found).flatMap((set) => [...set])) };
}

export const agentSettings = (): AgentSettings => parseAgentSettings(helpText());

/** The variables a container running `seaway <command>` may set; `uninstall` reads those of every command (and its own). */
export function variablesOf(settings: AgentSettings, command: string): ReadonlySet<string> {
  if (command === 'run') return new Set([...settings.shared, ...settings.run]);
  if (command === 'gateway') return new Set([...settings.shared, ...settings.gateway]);
  return settings.all;
}
