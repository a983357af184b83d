/**
 * The API server's audit log: every API request (not the /admin fault API) with who sent it (peer
 * address, User-Agent), what it asked (verb, path and query) and the answer's code, so tests can
 * count requests per client and per resource as an operator would from a real audit log.
 */

export interface AuditEntry {
  seq: number;
  /** ISO time the request arrived. */
  time: string;
  /** The peer's address; "unix" for the unix socket. */
  remote: string;
  userAgent: string;
  method: string;
  /** Kubernetes verb (list, watch, get, create, ...) or the lowercased method for other paths. */
  verb: string;
  /** Path and query. */
  path: string;
  /** HTTP status once answered (a watch: 200 once its stream started); null while pending. */
  code: number | null;
  /** With access checks: who sent it, the decision, and the RBAC rule that allowed it (`Role/<ns>/<name>#<index>`). */
  user?: string;
  decision?: 'allow' | 'forbid';
  rule?: string;
}

export class AuditLog {
  readonly #limit: number;
  #entries: AuditEntry[] = [];
  #next = 1;

  constructor(limit = 200_000) {
    this.#limit = limit;
  }

  record(entry: Omit<AuditEntry, 'seq' | 'code'>): AuditEntry {
    const recorded: AuditEntry = { ...entry, seq: this.#next++, code: null };
    this.#entries.push(recorded);
    if (this.#entries.length > this.#limit) this.#entries = this.#entries.slice(-Math.floor(this.#limit / 2));
    return recorded;
  }

  /** Entries with seq >= `from`, and the seq the next entry will get. */
  since(from: number): { next: number; entries: AuditEntry[] } {
    return { next: this.#next, entries: this.#entries.filter((e) => e.seq >= from) };
  }
}
