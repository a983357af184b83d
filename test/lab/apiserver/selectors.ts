import { ApiError } from './status.ts';

/** A parsed selector: true when the object (its labels, or its fields) matches. */
export type Predicate<T> = (subject: T) => boolean;
export type Labels = Readonly<Record<string, string>> | undefined;

const keyPattern = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const valuePattern = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function invalidSelector(selector: string, why: string): ApiError {
  return new ApiError(400, `unable to parse requirement: invalid label selector "${selector}": ${why}`);
}

const operatorTokens = ['==', '!=', '=', '!', '(', ')', ',', '<', '>'];

function tokenize(selector: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < selector.length) {
    const ch = selector[i] ?? '';
    if (/\s/.test(ch)) { i++; continue; }
    const op = operatorTokens.find((t) => selector.startsWith(t, i));
    if (op) { tokens.push(op); i += op.length; continue; }
    let j = i;
    while (j < selector.length && !/\s/.test(selector[j] ?? '') && !operatorTokens.some((t) => selector.startsWith(t, j))) j++;
    tokens.push(selector.slice(i, j));
    i = j;
  }
  return tokens;
}

const isWord = (token: string | undefined): token is string => token !== undefined && !operatorTokens.includes(token);

/**
 * Parses a Kubernetes label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
 * `k>1`, `k<1`, joined by commas (all must hold). Throws a 400 ApiError on bad syntax.
 */
export function parseLabelSelector(selector: string): Predicate<Labels> {
  const tokens = tokenize(selector);
  const requirements: Predicate<Labels>[] = [];
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const key = (): string => {
    const k = next();
    if (!isWord(k)) throw invalidSelector(selector, `expected a key, found ${k === undefined ? 'the end' : `"${k}"`}`);
    if (!keyPattern.test(k) || k.length > 316) throw invalidSelector(selector, `invalid key "${k}"`);
    return k;
  };
  const value = (): string => {
    const v = peek();
    if (!isWord(v)) return ''; // `k=` selects the empty value
    pos++;
    if (!valuePattern.test(v) || v.length > 63) throw invalidSelector(selector, `invalid value "${v}"`);
    return v;
  };
  const valueList = (): Set<string> => {
    if (next() !== '(') throw invalidSelector(selector, 'expected "(" after in/notin');
    const values = new Set<string>();
    for (;;) {
      values.add(value());
      const t = next();
      if (t === ')') return values;
      if (t !== ',') throw invalidSelector(selector, 'expected "," or ")" in a value list');
    }
  };
  const integer = (): number => {
    const v = next();
    if (!isWord(v) || !/^-?\d+$/.test(v)) throw invalidSelector(selector, `expected an integer, found "${v ?? ''}"`);
    return Number(v);
  };
  if (tokens.length === 0) return () => true;
  for (;;) {
    if (peek() === '!') {
      next();
      const k = key();
      requirements.push((labels) => labels?.[k] === undefined);
    } else {
      const k = key();
      const op = peek();
      if (op === undefined || op === ',') {
        requirements.push((labels) => labels?.[k] !== undefined);
      } else if (op === '=' || op === '==') {
        next();
        const v = value();
        requirements.push((labels) => labels?.[k] === v);
      } else if (op === '!=') {
        next();
        const v = value();
        requirements.push((labels) => labels?.[k] !== v);
      } else if (op === 'in' || op === 'notin') {
        next();
        const values = valueList();
        requirements.push(op === 'in'
          ? (labels) => labels?.[k] !== undefined && values.has(labels[k] ?? '')
          : (labels) => labels?.[k] === undefined || !values.has(labels[k] ?? ''));
      } else if (op === '<' || op === '>') {
        next();
        const bound = integer();
        requirements.push((labels) => {
          const v = labels?.[k];
          if (v === undefined || !/^-?\d+$/.test(v)) return false;
          return op === '<' ? Number(v) < bound : Number(v) > bound;
        });
      } else {
        throw invalidSelector(selector, `unexpected "${op}" after key "${k}"`);
      }
    }
    const t = next();
    if (t === undefined) break;
    if (t !== ',') throw invalidSelector(selector, `expected "," found "${t}"`);
  }
  return (labels) => requirements.every((r) => r(labels));
}

/** Splits on an unescaped separator; `\` escapes the next character. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '\\' && i + 1 < text.length) { current += ch + (text[i + 1] ?? ''); i++; continue; }
    if (ch === separator) { parts.push(current); current = ''; continue; }
    current += ch;
  }
  parts.push(current);
  return parts;
}

const unescape = (text: string) => text.replace(/\\(.)/g, '$1');

/** Reads a field label ("metadata.name", "spec.unschedulable") of an object as the string a selector compares. */
export function fieldValue(object: unknown, path: string): string {
  return fieldReader(path)(object);
}

function fieldReader(path: string): (object: unknown) => string {
  const parts = path.split('.');
  return (object) => readField(object, parts, path);
}

function readField(object: unknown, parts: string[], path: string): string {
  let current: unknown = object;
  for (const part of parts) {
    current = current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[part] : undefined;
  }
  if (typeof current === 'string') return current;
  if (typeof current === 'number' || typeof current === 'boolean') return String(current);
  return path === 'spec.unschedulable' ? 'false' : '';
}

/**
 * Parses a field selector (`a=b`, `a==b`, `a!=b`, comma-joined) over the given field labels.
 * Unknown field labels and bad syntax are 400 errors, as in Kubernetes.
 */
export function parseFieldSelector(selector: string, supported: readonly string[]): Predicate<unknown> {
  const terms: Predicate<unknown>[] = [];
  for (const term of splitUnescaped(selector, ',')) {
    if (term.trim() === '') {
      if (selector.trim() === '') continue;
      throw new ApiError(400, `invalid field selector "${selector}": empty term`);
    }
    const match = /^(.*?)(==|!=|=)(.*)$/s.exec(term);
    if (!match) throw new ApiError(400, `invalid field selector "${selector}": "${term}" has no operator`);
    const field = (match[1] ?? '').trim();
    const op = match[2];
    const wanted = unescape(match[3] ?? '');
    if (!supported.includes(field)) throw new ApiError(400, `field label not supported: ${field}`);
    const read = fieldReader(field);
    terms.push(op === '!=' ? (o) => read(o) !== wanted : (o) => read(o) === wanted);
  }
  return (object) => terms.every((t) => t(object));
}
