/**
 * Authentication and authorization of one lab API server, as kube-apiserver does them: a bearer
 * token names the user (an unknown one is 401, none is `system:anonymous`), RBAC over the stored
 * Roles, ClusterRoles and bindings (plus Kubernetes' bootstrap discovery and health roles) decides,
 * and a refusal is the 403 Status in kube-apiserver's words. The lab's own tools come in over the
 * plain unix socket, which is trusted as an administrator (the lab's `system:masters`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './status.ts';
import { authorize, auditRecord, forbidden, privilegedGroup, type AuthorizationAudit, type RequestAttributes, type UserInfo } from './rbac.ts';
import { compilePolicy, type RbacObjects, type RbacPolicy } from './rbac-policy.ts';
import { defaultClusterRoleBindings, defaultClusterRoles } from './rbac-defaults.ts';
import { requestInfoFor } from './request-info.ts';
import { authenticatedGroup, TokenRegistry } from './tokens.ts';

/** Who the lab's own tools are: the plain unix socket is reachable only from the machine's root. */
export const LAB_ADMIN: UserInfo = Object.freeze({ name: 'system:admin', groups: Object.freeze([privilegedGroup, authenticatedGroup]) });

export interface AccessDeps {
  /** The stored RBAC objects now. */
  rbacObjects(): RbacObjects;
  /** A number that changes whenever a stored role or binding may have: the compiled policy is cached by it. */
  version(): number;
  /** Requests without credentials are `system:anonymous` (kube-apiserver's default); otherwise 401. */
  anonymous?: boolean;
}

export interface Admission {
  user: UserInfo;
  /** For the audit log: the decision and the rule that allowed it. */
  audit: AuthorizationAudit;
  /** The 403 to answer when RBAC refused (the user and decision are still known, for the audit log). */
  refusal?: ApiError;
}

export interface AccessControl {
  readonly tokens: TokenRegistry;
  /** Authenticates and authorizes one request; throws the 400 or 401 ApiError a real server answers with (a 403 is the admission's refusal). */
  admit(request: { method: string; target: string; headers: IncomingHttpHeaders }, trusted: boolean): Admission;
}

export function createAccessControl(deps: AccessDeps): AccessControl {
  const tokens = new TokenRegistry();
  const bootstrapRoles = defaultClusterRoles();
  const bootstrapBindings = defaultClusterRoleBindings();
  let cached: { version: number; policy: RbacPolicy } | null = null;
  const policy = (): RbacPolicy => {
    const version = deps.version();
    if (cached?.version !== version) {
      const stored = deps.rbacObjects();
      cached = {
        version,
        policy: compilePolicy({
          ...stored,
          clusterRoles: [...bootstrapRoles, ...(stored.clusterRoles ?? [])],
          clusterRoleBindings: [...bootstrapBindings, ...(stored.clusterRoleBindings ?? [])],
        }),
      };
    }
    return cached.policy;
  };
  return {
    tokens,
    admit(request, trusted) {
      let user: UserInfo;
      if (trusted) user = LAB_ADMIN;
      else {
        const authenticated = tokens.authenticate(request.headers.authorization, { anonymous: deps.anonymous ?? true });
        if (!authenticated.ok) throw authenticated.error;
        user = authenticated.user;
      }
      const { info, error } = requestInfoFor(request.method, request.target);
      if (error) throw new ApiError(error.code, error.message);
      const attributes: RequestAttributes = { ...info, user };
      const decision = authorize(policy(), attributes);
      const admission: Admission = { user, audit: auditRecord(attributes, decision) };
      if (!decision.allowed) admission.refusal = forbidden(attributes, decision);
      return admission;
    },
  };
}
