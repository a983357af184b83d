/** Submariner's API group and version (the Endpoint, Cluster and Gateway CRDs). */
export const SUBMARINER_GROUP = 'submariner.io';
export const SUBMARINER_VERSION = 'v1';
export const SUBMARINER_API_VERSION = `${SUBMARINER_GROUP}/${SUBMARINER_VERSION}` as const;
