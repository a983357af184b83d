/**
 * Bearer-token authentication for the lab's API server: tokens issued per service account (and for an admin
 * in `system:masters`), the `Authorization` header read as kube-apiserver reads it, and the 401 it answers.
 * Pure apart from the random bytes (node:crypto unless passed in).
 *
 * Verified against k8s.io/apiserver:
 * - request/bearertoken: the header is trimmed and split on single spaces into at most 3 parts; the scheme is
 *   `bearer` in any case; the token is the second part (so `Bearer a b` presents `a`). An empty token
 *   (`Bearer  x`, two spaces) is no credential at all, with the warning quoted below. A header with another
 *   scheme (Basic) is no credential for this authenticator either.
 * - A token the authenticators do not know is an error ("invalid bearer token"), and an authentication error
 *   is never treated as anonymous: the answer is 401 with Status `{message: "Unauthorized", reason:
 *   "Unauthorized", code: 401}` (filters.Unauthorized with apierrors.NewUnauthorized("Unauthorized")).
 * - No credential: with anonymous auth on (kube-apiserver's default, and kind's), the user is
 *   `system:anonymous` in group `system:unauthenticated`, and RBAC decides; with it off, 401.
 * - A service account's user is `system:serviceaccount:<ns>:<name>` in groups `system:serviceaccounts`,
 *   `system:serviceaccounts:<ns>`, and every authenticated user gets `system:authenticated` added
 *   (group.AuthenticatedGroupAdder).
 *
 * Lab choices (not Kubernetes'): tokens are opaque random strings, not signed JWTs (clients treat both as
 * opaque); they do not expire; the registry keeps only their SHA-256 digests, so no state dump, log line or
 * error message can show one.
 */
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { ApiError } from './status.ts';
import { privilegedGroup, type UserInfo } from './rbac.ts';

export const authenticatedGroup = 'system:authenticated';
export const unauthenticatedGroup = 'system:unauthenticated';
export const serviceAccountsGroup = 'system:serviceaccounts';
const serviceAccountUsernamePrefix = 'system:serviceaccount:';
export const anonymousUser: UserInfo = Object.freeze({ name: 'system:anonymous', groups: Object.freeze([unauthenticatedGroup]) });

/** kube-apiserver's warning for `Authorization: Bearer  <token>` (a space too many). */
export const extraSpaceWarning = 'the provided Authorization header contains extra space before the bearer token, and is ignored';

/** The user a service account's token authenticates as (with system:authenticated, as the server adds it). */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    name: `${serviceAccountUsernamePrefix}${namespace}:${name}`,
    groups: [serviceAccountsGroup, `${serviceAccountsGroup}:${namespace}`, authenticatedGroup],
  };
}

/** The service account a username names, if it names one (serviceaccount.SplitUsername). */
export function serviceAccountOf(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(serviceAccountUsernamePrefix)) return undefined;
  const parts = username.slice(serviceAccountUsernamePrefix.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], name: parts[1] };
}

export type BearerHeader =
  | { kind: 'none'; warning?: string }
  | { kind: 'bearer'; token: string };

/** Reads an Authorization header as bearertoken.Authenticator does. */
export function parseAuthorization(header: string | readonly string[] | undefined): BearerHeader {
  // Go's Header.Get: the first value.
  const auth = (typeof header === 'string' ? header : header?.[0] ?? '').trim();
  if (auth === '') return { kind: 'none' };
  // strings.SplitN(auth, " ", 3)
  const first = auth.indexOf(' ');
  if (first < 0 || auth.slice(0, first).toLowerCase() !== 'bearer') return { kind: 'none' };
  const rest = auth.slice(first + 1);
  const second = rest.indexOf(' ');
  const token = second < 0 ? rest : rest.slice(0, second);
  if (token === '') return second < 0 ? { kind: 'none' } : { kind: 'none', warning: extraSpaceWarning };
  return { kind: 'bearer', token };
}

/** The 401 kube-apiserver answers to a request whose credentials it does not accept. */
export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkServiceAccount(namespace: string, name: string): void {
  // A ':' in either would make the username ambiguous; Kubernetes' name rules exclude it anyway.
  if (!dnsLabel.test(namespace) || namespace.length > 63) throw new Error(`invalid namespace ${JSON.stringify(namespace)} for a service account token`);
  if (!dnsSubdomain.test(name) || name.length > 253) throw new Error(`invalid service account name ${JSON.stringify(name)}`);
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export interface TokenRegistryOptions {
  /** Random bytes for new tokens (tests pass a deterministic source). */
  randomBytes?: (size: number) => Uint8Array;
  /** Bytes of randomness per token; 32 (256 bits) unless given. */
  tokenBytes?: number;
}

export type AuthenticationResult =
  | { ok: true; user: UserInfo; warning?: string }
  | { ok: false; error: ApiError };

/** Issued tokens of one lab cluster, each mapping to a user. */
export class TokenRegistry {
  readonly #users = new Map<string, UserInfo>();
  readonly #randomBytes: (size: number) => Uint8Array;
  readonly #tokenBytes: number;

  constructor(options: TokenRegistryOptions = {}) {
    this.#randomBytes = options.randomBytes ?? ((size) => cryptoRandomBytes(size));
    this.#tokenBytes = options.tokenBytes ?? 32;
  }

  #issue(user: UserInfo): string {
    const bytes = this.#randomBytes(this.#tokenBytes);
    if (bytes.length < 16) throw new Error(`a token needs at least 16 random bytes, got ${bytes.length}`);
    const token = Buffer.from(bytes).toString('base64url');
    const key = digest(token);
    if (this.#users.has(key)) throw new Error('the random source repeated itself: refusing to issue a duplicate token');
    this.#users.set(key, { name: user.name, groups: [...user.groups] });
    return token;
  }

  /** A new token for the service account `<namespace>/<name>`; earlier ones stay valid. */
  issueServiceAccount(namespace: string, name: string): string {
    checkServiceAccount(namespace, name);
    return this.#issue(serviceAccountUser(namespace, name));
  }

  /** A token for an administrator: in `system:masters`, which kube-apiserver lets do everything. */
  issueAdmin(name = 'kubernetes-admin'): string {
    if (name === '' || name.startsWith(serviceAccountUsernamePrefix)) throw new Error(`invalid admin user name ${JSON.stringify(name)}`);
    return this.#issue({ name, groups: [privilegedGroup, authenticatedGroup] });
  }

  /** The user a token stands for, or undefined for a token this registry did not issue (or revoked). */
  resolve(token: string): UserInfo | undefined {
    const user = this.#users.get(digest(token));
    return user && { name: user.name, groups: [...user.groups] };
  }

  /** Forgets one token; true if it was known. */
  revoke(token: string): boolean {
    return this.#users.delete(digest(token));
  }

  /** Forgets every token of a service account (it was deleted); how many there were. */
  revokeServiceAccount(namespace: string, name: string): number {
    const username = serviceAccountUser(namespace, name).name;
    let count = 0;
    for (const [key, user] of this.#users) {
      if (user.name === username) {
        this.#users.delete(key);
        count++;
      }
    }
    return count;
  }

  /** How many tokens are valid (never which). */
  get size(): number {
    return this.#users.size;
  }

  /**
   * Authenticates a request from its Authorization header as kube-apiserver does: a known bearer token is its
   * user; an unknown one is 401, never anonymous; no credential is `system:anonymous` if `anonymous` (the
   * default, as in kube-apiserver), else 401.
   */
  authenticate(header: string | readonly string[] | undefined, options: { anonymous?: boolean } = {}): AuthenticationResult {
    const parsed = parseAuthorization(header);
    if (parsed.kind === 'bearer') {
      const user = this.resolve(parsed.token);
      return user ? { ok: true, user } : { ok: false, error: unauthorized() };
    }
    if (options.anonymous ?? true) {
      const result: AuthenticationResult = { ok: true, user: { name: anonymousUser.name, groups: [...anonymousUser.groups] } };
      if (parsed.warning) result.warning = parsed.warning;
      return result;
    }
    return { ok: false, error: unauthorized() };
  }
}
