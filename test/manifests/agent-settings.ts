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
  /** Every variable of any command. */
  all: ReadonlySet<string>;
}

const SECTIONS = { 'Settings of run and gateway:': 'shared', 'Settings of run only:': 'run', 'Settings of gateway only:': 'gateway' } as const;

/**
 * Reads the sections of a help text: under each "Settings of ..." header, a setting's variables are on
 * an `env: A, B` line (a setting with a flag) or an `env A, B` line (a variable-only setting). Throws when
 * a section is missing or empty, so a changed help layout fails loudly instead of allowing nothing.
 */
export function parseAgentSettings(text: string): AgentSettings {
  const found: Record<'shared' | 'run' | 'gateway', Set<string>> = { shared: new Set(), run: new Set(), gateway: new Set() };
  let section: keyof typeof found | null = null;
  for (const line of text.split('\n')) {
    const header = SECTIONS[line.trim() as keyof typeof SECTIONS];
    if (header !== undefined) { section = header; continue; }
    if (section === null) continue;
    const env = /^\s+env:? ([A-Z0-9_]+(?:, [A-Z0-9_]+)*)\s*$/.exec(line);
    if (env) for (const name of env[1]!.split(', ')) found[section].add(name);
  }
  for (const [name, set] of Object.entries(found)) {
    if (set.size === 0) throw new Error(`the help text has no settings in its "${name}" section: its layout changed, update agent-settings.ts`);
  }
  return { ...found, all: new Set([...found.shared, ...found.run, ...found.gateway]) };
}

export const agentSettings = (): AgentSettings => parseAgentSettings(helpText());

/** The variables a container running `seaway <command>` may set; a command config.ts does not know yet (uninstall) may use any. */
export function variablesOf(settings: AgentSettings, command: string): ReadonlySet<string> {
  if (command === 'run') return new Set([...settings.shared, ...settings.run]);
  if (command === 'gateway') return new Set([...settings.shared, ...settings.gateway]);
  return settings.all;
}
