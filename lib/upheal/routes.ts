/**
 * The one route table of the Upheal operations this product uses (integration guide; upheal-api.md
 * header table). How V1 and V2 differ in the URL is undocumented — the guide writes both without
 * a prefix — so the version is recorded here and nowhere else: if Upheal turns out to select V2 by
 * a prefix or header, only this file changes.
 */

/** Upheal API versions; recorded per route, not yet reflected in the URL (§8 rows 1–2). */
export const API_VERSIONS = { v1: 'V1', v2: 'V2' } as const;

/** An Upheal API version. */
export type ApiVersion = (typeof API_VERSIONS)[keyof typeof API_VERSIONS];

/** HTTP methods used by the route table. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One route: method, path template with `{param}` placeholders, and the API version. */
export interface Route {
  readonly method: HttpMethod;
  readonly path: string;
  readonly version: ApiVersion;
}

/** The seven operations, keyed by operation name (also used in error messages and metrics). */
export const ROUTES = {
  check: { method: 'POST', path: '/users/check', version: API_VERSIONS.v1 },
  createProvider: { method: 'POST', path: '/users/providers', version: API_VERSIONS.v2 },
  createClient: { method: 'POST', path: '/users/clients', version: API_VERSIONS.v2 },
  updateUser: { method: 'PUT', path: '/users/{userId}', version: API_VERSIONS.v2 },
  updateProvider: {
    method: 'PUT',
    path: '/users/providers/{providerUserId}',
    version: API_VERSIONS.v2,
  },
  replaceProviders: { method: 'POST', path: '/users/{userId}/providers', version: API_VERSIONS.v1 },
  deleteUser: { method: 'DELETE', path: '/users/{userId}', version: API_VERSIONS.v1 },
} as const satisfies Record<string, Route>;

/** The name of an Upheal operation. */
export type Operation = keyof typeof ROUTES;

const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

/**
 * The path of `operation` with every `{param}` replaced by its URL-encoded value. Throws when a
 * placeholder has no value or the value is empty: a programming error, never a request to send.
 */
export function buildPath(operation: Operation, params: Readonly<Record<string, string>> = {}) {
  return ROUTES[operation].path.replace(PLACEHOLDER, (_match, name: string) => {
    const value = params[name];
    if (value === undefined || value === '') {
      throw new TypeError(`route ${operation}: missing path parameter ${name}`);
    }
    return encodeURIComponent(value);
  });
}
