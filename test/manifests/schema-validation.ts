/**
 * Each document against the Kubernetes OpenAPI schema of its kind (kubernetes-models: types, required
 * fields, formats such as quantities), and the monitoring kinds against prometheus-operator's. Only the
 * kinds seaway ships are imported; any other kind is a problem, so a new one is added here on purpose.
 * These schemas allow unknown fields: unknown-fields.ts catches those.
 */
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { describeDoc, str, type ManifestDoc } from './manifest-files.ts';

type Validating = new (data: never) => { validate(): void };

/** `apiVersion kind` -> its model class. */
const MODELS: ReadonlyMap<string, Validating> = new Map<string, Validating>([
  ['v1 Namespace', Namespace],
  ['v1 ServiceAccount', ServiceAccount],
  ['apps/v1 DaemonSet', DaemonSet],
  ['rbac.authorization.k8s.io/v1 Role', Role],
  ['rbac.authorization.k8s.io/v1 RoleBinding', RoleBinding],
  ['rbac.authorization.k8s.io/v1 ClusterRole', ClusterRole],
  ['rbac.authorization.k8s.io/v1 ClusterRoleBinding', ClusterRoleBinding],
  ['apiextensions.k8s.io/v1 CustomResourceDefinition', CustomResourceDefinition],
  ['monitoring.coreos.com/v1 PodMonitor', PodMonitor],
  ['monitoring.coreos.com/v1 PrometheusRule', PrometheusRule],
]);

export const SHIPPED_KINDS: readonly string[] = [...MODELS.keys()];

interface AjvError { instancePath?: string; message?: string; params?: Record<string, unknown> }

/** One problem per schema error, naming the document and the field. */
export function schemaProblems(doc: ManifestDoc): string[] {
  const key = `${str(doc.object.apiVersion)} ${str(doc.object.kind)}`;
  const Model = MODELS.get(key);
  if (Model === undefined) return [`${describeDoc(doc)}: "${key}" is not a kind seaway ships (known: ${SHIPPED_KINDS.join(', ')})`];
  try {
    // The model copies the object; validate() checks it against the kind's schema.
    new Model(structuredClone(doc.object) as never).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors;
    if (!Array.isArray(errors) || errors.length === 0) return [`${describeDoc(doc)}: ${(error as Error).message}`];
    return errors.map((e) => {
      const extra = e.params && 'allowedValues' in e.params ? ` (${JSON.stringify(e.params.allowedValues)})` : '';
      return `${describeDoc(doc)}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
    });
  }
}
