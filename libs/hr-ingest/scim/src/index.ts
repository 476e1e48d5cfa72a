export { SCIM_MEDIA_TYPE, URN } from './scim-constants.js';
export { ScimError, invalidSyntax, invalidValue, type ScimErrorBody, type ScimType } from './scim-error.js';
export { SCIM_PATH_OF, etagOf, personToScimUser, projectAttributes, scimUserToWorker, type ScimPersonView, type ScimUserOptions, type ScimWorker } from './scim-user.js';
export { parseScimFilter, type CompareOp, type FilterField, type ResolvedFilter } from './scim-filter.js';
export { applyPatch, parsePatchRequest, patchedWorker } from './scim-patch.js';
export { parseBulkRequest, type BulkMethod, type BulkOperation, type BulkRequest, type InvalidBulkOperation } from './scim-bulk.js';
export { resourceTypeResources, schemaResources, serviceProviderConfig, type AttributeDefinition, type ServiceProviderLimits } from './scim-schemas.js';
