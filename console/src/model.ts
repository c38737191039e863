// The admin API's answers as the console reads them (runner/openapi.json
// and /tmp/console-contract.md are the reference; fields the console does
// not use are left out).

export interface Quotas {
  maxConcurrency: number;
  maxActions: number;
  maxModuleBytes: number;
  maxStorageBytes: number;
  maxVersions: number;
  maxMemoryMb: number;
  maxInvocationRecords: number;
}

/** What the tenant uses now; servers older than the console lack it. */
export interface Usage {
  actions: number;
  storageBytes: number;
  inFlight: number;
}

/** `GET /tenants/{t}` (Tenant) and each item of `GET /tenants` (TenantInfo). */
export interface Tenant {
  name: string;
  displayName: string | null;
  failureWord: string;
  suspended: boolean;
  declarative: boolean;
  quotas: Quotas;
  actions: number;
  createdAt?: string;
  usage?: Usage;
}

export interface NewTenant {
  name: string;
  adminToken: string;
  apiKey: string;
}

export interface Action {
  name: string;
  displayName: string;
  liveVersion: number;
  versions: number;
  kind: 'action' | 'provider';
  endpoints?: string[];
}

export interface Version {
  version: number;
  hash: string;
  size: number;
  abi: string;
  createdAt: string;
  live: boolean;
}

/** `GET …/actions/{a}/versions/{v}`: the manifest (TOML) the version runs under. */
export interface VersionDetail {
  name: string;
  version: number;
  hash: string;
  abi: 'command' | 'component' | null;
  manifest: string;
}

export interface Deployed {
  name: string;
  version: number;
  abi: 'command' | 'component';
  hash: string;
  tier: 'baseline' | 'optimized';
  baselineUnavailable?: string;
}

export interface Key {
  id: string;
  hint: string;
  createdAt: string;
}

export interface NewKey extends Key {
  apiKey: string;
}

export interface Secret {
  name: string;
  updatedAt: string;
}

export interface Invocation {
  id: string;
  time: string;
  action: string;
  version: number;
  outcome: string;
  ms: number;
  limitHit: string | null;
  requestId: string;
  stderr?: string;
  tier?: string;
  answer?: { status: number; body?: unknown };
  input?: { documentId: string; documentVersionId: string; username: string; params: Record<string, string> };
  timing: { queueMs: number; instantiateMs: number; runMs: number };
  outbound: { method: string; host: string; status: number | null; outcome: string; ms: number }[];
}

/** `POST …/try`: what Workfront would have been answered. */
export interface TryResult {
  status: number;
  contentType?: string | null;
  body?: unknown;
  text?: string | null;
  base64?: string | null;
  requestId: string;
}

export interface SummaryBucket {
  start: string;
  invocations: number;
  failures: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface Summary {
  since: string;
  bucketSeconds: number;
  truncated: boolean;
  buckets: SummaryBucket[];
}
