/**
 * One iptables-save rule read as far as seaway needs to judge it: its chain, the conditions it
 * matches on, its target, and seaway's ownership mark. Only what this module understands is
 * interpreted; every other option is kept as an opaque "narrowing" condition, so a rule is never
 * read as matching less than it might.
 */

/** seaway's ownership mark: `-m comment --comment "seaway:<hash>"` (Calico Felix marks its rules the same way). */
export const MARK_PREFIX = 'seaway:';
const MARK = /^seaway:([A-Za-z0-9_-]{1,64})$/;

export interface RuleOption {
  /** The option as written (`-s`, `--match-set`, `--dport`, ...). */
  name: string;
  negated: boolean;
  values: string[];
  /** The `-m` module it belongs to; '' for the core options (-s -d -i -o -p). */
  module: string;
}

export interface ParsedRule {
  options: RuleOption[];
  /** `-j` or `-g` target; null for a rule with none (it only counts packets). */
  target: string | null;
  /** Whether the target was given with -g (goto: no return into the calling chain). */
  goto: boolean;
  /** The hash of seaway's mark, or null when the rule carries none. */
  mark: string | null;
}

export class RuleParseError extends Error {
  constructor(rule: string, why: string) {
    super(`iptables rule ${JSON.stringify(rule.slice(0, 200))}: ${why}`);
    this.name = 'RuleParseError';
  }
}

/** Splits an iptables-save rule into words: double quotes group, a backslash escapes the next character. */
export function tokenizeRule(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) { current += text[++i]; inToken = true; continue; }
    if (ch === '"') { quoted = !quoted; inToken = true; continue; }
    if (!quoted && (ch === ' ' || ch === '\t')) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
      continue;
    }
    current += ch;
    inToken = true;
  }
  if (quoted) throw new RuleParseError(text, 'unterminated quote');
  if (inToken) tokens.push(current);
  return tokens;
}

/** Core options that take one value; iptables-save prints the short forms, the long ones are accepted too. */
const CORE_OPTIONS = new Map([
  ['-s', '-s'], ['--source', '-s'], ['--src', '-s'],
  ['-d', '-d'], ['--destination', '-d'], ['--dst', '-d'],
  ['-i', '-i'], ['--in-interface', '-i'],
  ['-o', '-o'], ['--out-interface', '-o'],
  ['-p', '-p'], ['--protocol', '-p'],
]);

/** Parses one rule as iptables-save prints it (`-A CHAIN ...`); throws RuleParseError on text that is not a rule. */
export function parseRule(text: string): ParsedRule {
  const tokens = tokenizeRule(text.trim());
  if (tokens[0] !== '-A' || tokens[1] === undefined) throw new RuleParseError(text, 'expected "-A CHAIN ..."');
  // The target's own options (--to-source, --reject-with) do not matter to what the rule matches.
  const rule: ParsedRule = { options: [], target: null, goto: false, mark: null };
  let module = '';
  let negated = false;
  let i = 2;
  while (i < tokens.length) {
    const token = tokens[i]!;
    if (token === '!') { negated = true; i++; continue; }
    if (token === '-j' || token === '--jump' || token === '-g' || token === '--goto') {
      const target = tokens[i + 1];
      if (target === undefined) throw new RuleParseError(text, `${token} without a target`);
      rule.target = target;
      rule.goto = token === '-g' || token === '--goto';
      break;
    }
    if (token === '-m' || token === '--match') {
      const name = tokens[i + 1];
      if (name === undefined) throw new RuleParseError(text, '-m without a module');
      module = name;
      negated = false;
      i += 2;
      continue;
    }
    const core = CORE_OPTIONS.get(token);
    if (core !== undefined) {
      const value = tokens[i + 1];
      if (value === undefined) throw new RuleParseError(text, `${token} without a value`);
      rule.options.push({ name: core, negated, values: [value], module: '' });
      negated = false;
      i += 2;
      continue;
    }
    if (!token.startsWith('-')) throw new RuleParseError(text, `unexpected word ${JSON.stringify(token)}`);
    // A module option: its values are the words up to the next option (a lone "!" negates the next one).
    const values: string[] = [];
    let j = i + 1;
    while (j < tokens.length && !tokens[j]!.startsWith('-') && tokens[j] !== '!') values.push(tokens[j++]!);
    // Negative numbers and ranges never start a value in iptables-save output, so "-" always opens an option.
    rule.options.push({ name: token, negated, values, module });
    if (module === 'comment' && token === '--comment') {
      const mark = MARK.exec(values.join(' '));
      if (mark) rule.mark = mark[1]!;
    }
    negated = false;
    i = j;
  }
  return rule;
}
