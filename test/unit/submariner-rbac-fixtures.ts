/**
 * Submariner's own RBAC for the route agent and the gateway, as ../shared/research/deploy-and-footprint.md
 * section 6 records it from submariner-io/submariner-operator commit 393ed877bc3bb8b550c9b81812e0461034bf5c72
 * (config/rbac/submariner-{route-agent,gateway}/*.yaml). The research gives the rules, not the binding
 * objects; the bindings here follow the operator's pattern (a ClusterRoleBinding per ClusterRole, a RoleBinding
 * per Role in the operator's namespace, the DaemonSet's service account as subject). Functions, so each test
 * gets its own copy to change.
 */

export const submarinerNamespace = 'submariner-operator';
const rbacGroup = 'rbac.authorization.k8s.io';

export interface FixtureRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const clusterRole = (name: string, rules: FixtureRule[]) => ({ apiVersion: `${rbacGroup}/v1`, kind: 'ClusterRole', metadata: { name }, rules });
const role = (name: string, rules: FixtureRule[]) =>
  ({ apiVersion: `${rbacGroup}/v1`, kind: 'Role', metadata: { name, namespace: submarinerNamespace }, rules });
const saSubject = (name: string) => [{ kind: 'ServiceAccount', name, namespace: submarinerNamespace }];
const clusterRoleBinding = (name: string, sa: string) => ({
  apiVersion: `${rbacGroup}/v1`, kind: 'ClusterRoleBinding', metadata: { name },
  roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name }, subjects: saSubject(sa),
});
const roleBinding = (name: string, sa: string) => ({
  apiVersion: `${rbacGroup}/v1`, kind: 'RoleBinding', metadata: { name, namespace: submarinerNamespace },
  roleRef: { apiGroup: rbacGroup, kind: 'Role', name }, subjects: saSubject(sa),
});

export function routeAgentRbac() {
  return {
    clusterRoles: [
      clusterRole('submariner-routeagent', [
        { apiGroups: [''], resources: ['pods', 'services', 'configmaps', 'endpoints'], verbs: ['get', 'list'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['ovn-cert'], verbs: ['get'] },
        { apiGroups: ['config.openshift.io'], resources: ['networks'], resourceNames: ['cluster'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['projectcalico.org'], resources: ['ippools'], verbs: ['get', 'create', 'delete', 'update', 'deletecollection'] },
      ]),
      clusterRole('ocp-submariner-routeagent', [
        { apiGroups: ['security.openshift.io'], resources: ['securitycontextconstraints'], resourceNames: ['privileged'], verbs: ['use'] },
      ]),
    ],
    roles: [
      role('submariner-routeagent', [
        { apiGroups: ['submariner.io'], resources: ['endpoints'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['submariner.io'], resources: ['gatewayroutes', 'nongatewayroutes'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
        { apiGroups: ['submariner.io'], resources: ['routeagents'], verbs: ['get', 'list', 'create', 'update', 'delete'] },
      ]),
    ],
    clusterRoleBindings: [
      clusterRoleBinding('submariner-routeagent', 'submariner-routeagent'),
      clusterRoleBinding('ocp-submariner-routeagent', 'submariner-routeagent'),
    ],
    roleBindings: [roleBinding('submariner-routeagent', 'submariner-routeagent')],
  };
}

export function gatewayRbac() {
  return {
    clusterRoles: [
      clusterRole('submariner-gateway', [
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods', 'services', 'nodes'], verbs: ['get', 'list', 'watch'] },
      ]),
    ],
    roles: [
      role('submariner-gateway', [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: ['submariner.io'], resources: ['clusters', 'endpoints', 'gateways'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
      ]),
    ],
    clusterRoleBindings: [clusterRoleBinding('submariner-gateway', 'submariner-gateway')],
    roleBindings: [roleBinding('submariner-gateway', 'submariner-gateway')],
  };
}

/**
 * What each service account may do, written out from the research table independently of the objects above:
 * `group resource: verbs`, `(names)` for resourceNames; `cluster` rules hold everywhere, `namespace` rules only
 * in submariner-operator.
 */
export const routeAgentPermissions = {
  cluster: [
    ' pods: get list', ' services: get list', ' configmaps: get list', ' endpoints: get list',
    ' secrets(ovn-cert): get', 'config.openshift.io networks(cluster): get', ' nodes: get list watch',
    'projectcalico.org ippools: get create delete update deletecollection',
    'security.openshift.io securitycontextconstraints(privileged): use',
  ],
  namespace: [
    'submariner.io endpoints: get list watch',
    'submariner.io gatewayroutes: get list watch create update delete',
    'submariner.io nongatewayroutes: get list watch create update delete',
    'submariner.io routeagents: get list create update delete',
  ],
};

export const gatewayPermissions = {
  cluster: [' configmaps: get', ' pods: get list watch', ' services: get list watch', ' nodes: get list watch'],
  namespace: [
    ' pods: get update patch',
    'submariner.io clusters: get list watch create update delete',
    'submariner.io endpoints: get list watch create update delete',
    'submariner.io gateways: get list watch create update delete',
    'coordination.k8s.io leases: get list watch create update delete',
  ],
};
