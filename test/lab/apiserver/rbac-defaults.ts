/**
 * The part of kube-apiserver's bootstrap RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go)
 * that any client meets on a fresh cluster: cluster-admin bound to `system:masters`, discovery and health paths
 * for every authenticated user (`system:discovery`), health and version for everyone (`system:public-info-viewer`),
 * and self access reviews (`system:basic-user`). Without these a service account could not even read `/api`
 * or `/apis`, which every real cluster allows. The controller, node and scheduler roles are left out: the lab
 * runs none of those components.
 *
 * Each call returns new objects (callers may store and change them).
 */

import { privilegedGroup } from './rbac.ts';
import { authenticatedGroup, unauthenticatedGroup } from './tokens.ts';

const rbacApiVersion = 'rbac.authorization.k8s.io/v1';
const bootstrapLabels = () => ({ 'kubernetes.io/bootstrapping': 'rbac-defaults' });
const autoupdate = () => ({ 'rbac.authorization.kubernetes.io/autoupdate': 'true' });

function clusterRole(name: string, rules: object[]): Record<string, unknown> {
  return { apiVersion: rbacApiVersion, kind: 'ClusterRole', metadata: { name, labels: bootstrapLabels(), annotations: autoupdate() }, rules };
}

function clusterRoleBinding(name: string, groups: string[]): Record<string, unknown> {
  return {
    apiVersion: rbacApiVersion, kind: 'ClusterRoleBinding',
    metadata: { name, labels: bootstrapLabels(), annotations: autoupdate() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: groups.map((group) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group })),
  };
}

export function defaultClusterRoles(): Record<string, unknown>[] {
  return [
    clusterRole('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    clusterRole('system:discovery', [{
      nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'],
      verbs: ['get'],
    }]),
    clusterRole('system:public-info-viewer', [{
      nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'],
      verbs: ['get'],
    }]),
    clusterRole('system:basic-user', [{
      apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'],
    }]),
  ];
}

export function defaultClusterRoleBindings(): Record<string, unknown>[] {
  return [
    clusterRoleBinding('cluster-admin', [privilegedGroup]),
    clusterRoleBinding('system:discovery', [authenticatedGroup]),
    clusterRoleBinding('system:public-info-viewer', [authenticatedGroup, unauthenticatedGroup]),
    clusterRoleBinding('system:basic-user', [authenticatedGroup]),
  ];
}
