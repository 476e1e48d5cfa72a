/** Schema and message URNs (RFC 7643, RFC 7644) and hr-ingest's own HR extension. */
export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  enterprise: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  /** hr-ingest's extension for what HR has and core SCIM lacks: status, dates, leave, company, location. */
  hr: 'urn:provisio:params:scim:schemas:extension:hr:1.0:User',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  bulkRequest: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
  bulkResponse: 'urn:ietf:params:scim:api:messages:2.0:BulkResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
} as const;

export const SCIM_MEDIA_TYPE = 'application/scim+json';
