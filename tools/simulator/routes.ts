/**
 * How the simulator finds its routes. The Upheal route table itself is the client's
 * (`#lib/upheal/routes.ts`): one table for both sides, so a path learned from Upheal changes the
 * client and the simulator together (upheal-api.md §8 rows 1–2: the V1/V2 URL scheme is
 * undocumented). `{name}` segments are path parameters.
 */
import { type Operation, ROUTES } from '#lib/upheal/routes.ts';

/** The seven endpoints of the integration guide, as the simulator serves them. */
export const UPHEAL_ROUTES = ROUTES;

/** Name of one Upheal route (the client's operation name). */
export type UphealRouteName = Operation;

/** Every path under this prefix shares the per-key rate limit (V1 and V2 alike). */
export const RATE_LIMITED_PREFIX = '/users';

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
