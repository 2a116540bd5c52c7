import { describe, expect, it } from 'vitest';
import { matchRoute, UPHEAL_ROUTES } from '#tools/simulator/routes.ts';

describe('matchRoute', () => {
  it('prefers literal segments over parameters', () => {
    expect(matchRoute(UPHEAL_ROUTES, 'PUT', '/users/providers/p-1')).toEqual({
      name: 'updateProvider',
      params: { providerUserId: 'p-1' },
    });
    expect(matchRoute(UPHEAL_ROUTES, 'PUT', '/users/u-1')?.name).toBe('updateUser');
    expect(matchRoute(UPHEAL_ROUTES, 'POST', '/users/providers')?.name).toBe('createProvider');
    expect(matchRoute(UPHEAL_ROUTES, 'POST', '/users/u-1/providers')?.name).toBe(
      'replaceProviders',
    );
    expect(matchRoute(UPHEAL_ROUTES, 'POST', '/users/check')?.name).toBe('check');
  });

  it('decodes path parameters and matches nothing on bad percent-encoding', () => {
    expect(matchRoute(UPHEAL_ROUTES, 'DELETE', '/users/a%2Fb%20c')?.params).toEqual({
      userId: 'a/b c',
    });
    expect(matchRoute(UPHEAL_ROUTES, 'DELETE', '/users/%E0%A4%A')).toBeUndefined();
  });

  it('needs the method and the number of segments to agree', () => {
    expect(matchRoute(UPHEAL_ROUTES, 'GET', '/users/check')).toBeUndefined();
    expect(matchRoute(UPHEAL_ROUTES, 'DELETE', '/users')).toBeUndefined();
    expect(matchRoute(UPHEAL_ROUTES, 'DELETE', '/users/a/b')).toBeUndefined();
  });
});
