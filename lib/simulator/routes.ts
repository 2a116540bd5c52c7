/**
 * The Upheal user-management routes this product uses, in one table (upheal-api.md §8 rows 1–2:
 * the V1/V2 URL scheme is undocumented, so paths live here and nowhere else). The typed client and
 * the simulator both read this table; `{name}` segments are path parameters.
 */

/** HTTP methods used by the Upheal routes. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One Upheal endpoint: method, path template and the API version the guide names. */
export interface UphealRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly version: 'V1' | 'V2';
}

/** The seven endpoints of the integration guide (upheal-sync-users-guide.txt). */
export const UPHEAL_ROUTES = {
  checkUser: { method: 'POST', path: '/users/check', version: 'V1' },
  createProvider: { method: 'POST', path: '/users/providers', version: 'V2' },
  createClient: { method: 'POST', path: '/users/clients', version: 'V2' },
  updateUser: { method: 'PUT', path: '/users/{userId}', version: 'V2' },
  updateProvider: { method: 'PUT', path: '/users/providers/{providerUserId}', version: 'V2' },
  replaceProviders: { method: 'POST', path: '/users/{userId}/providers', version: 'V1' },
  deleteUser: { method: 'DELETE', path: '/users/{userId}', version: 'V1' },
} as const satisfies Record<string, UphealRoute>;

/** Name of one Upheal route. */
export type UphealRouteName = keyof typeof UPHEAL_ROUTES;

/** Every path under this prefix shares the per-key rate limit (V1 and V2 alike). */
export const RATE_LIMITED_PREFIX = '/users';

/** Fills a route's path parameters, URL-encoding each value. */
export function buildPath(
  route: UphealRoute,
  params: Readonly<Record<string, string>> = {},
): string {
  return route.path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

/** A request matched to a route, with its decoded path parameters. */
export interface RouteMatch<Name extends string = UphealRouteName> {
  readonly name: Name;
  readonly params: Readonly<Record<string, string>>;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

/**
 * Finds the route for a method and path (no query string). Literal segments win over parameters,
 * so `PUT /users/providers/x` is the provider update, not a user update. A path segment that is
 * not valid percent-encoding matches nothing.
 */
export function matchRoute<Name extends string>(
  table: Readonly<Record<Name, { readonly method: string; readonly path: string }>>,
  method: string,
  path: string,
): RouteMatch<Name> | undefined {
  const segments = splitPath(path);
  let best: { match: RouteMatch<Name>; literals: number } | undefined;
  for (const name of Object.keys(table) as Name[]) {
    const route = table[name];
    if (route.method !== method) continue;
    const template = splitPath(route.path);
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    let matched = true;
    for (const [index, part] of template.entries()) {
      const segment = segments[index]!;
      const parameter = /^\{(\w+)\}$/.exec(part)?.[1];
      if (parameter === undefined) {
        if (part !== segment) {
          matched = false;
          break;
        }
        literals += 1;
        continue;
      }
      try {
        params[parameter] = decodeURIComponent(segment);
      } catch {
        matched = false;
        break;
      }
    }
    if (matched && (best === undefined || literals > best.literals)) {
      best = { match: { name, params }, literals };
    }
  }
  return best?.match;
}
