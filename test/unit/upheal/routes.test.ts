import { describe, expect, it } from 'vitest';
import { API_VERSIONS, buildPath, ROUTES } from '#lib/upheal/routes.ts';

describe('ROUTES', () => {
  it('maps the seven operations to the methods, paths and versions of the integration guide', () => {
    expect(ROUTES).toEqual({
      check: { method: 'POST', path: '/users/check', version: API_VERSIONS.v1 },
      createProvider: { method: 'POST', path: '/users/providers', version: API_VERSIONS.v2 },
      createClient: { method: 'POST', path: '/users/clients', version: API_VERSIONS.v2 },
      updateUser: { method: 'PUT', path: '/users/{userId}', version: API_VERSIONS.v2 },
      updateProvider: {
        method: 'PUT',
        path: '/users/providers/{providerUserId}',
        version: API_VERSIONS.v2,
      },
      replaceProviders: {
        method: 'POST',
        path: '/users/{userId}/providers',
        version: API_VERSIONS.v1,
      },
      deleteUser: { method: 'DELETE', path: '/users/{userId}', version: API_VERSIONS.v1 },
    });
  });
});

describe('buildPath', () => {
  it('returns a path without parameters unchanged', () => {
    expect(buildPath('check')).toBe('/users/check');
  });

  it('fills each placeholder with its value', () => {
    expect(buildPath('replaceProviders', { userId: 'u-1' })).toBe('/users/u-1/providers');
    expect(buildPath('updateProvider', { providerUserId: 'p-1' })).toBe('/users/providers/p-1');
  });

  it('URL-encodes values so an id cannot escape its path segment', () => {
    expect(buildPath('deleteUser', { userId: '../a b/?#%' })).toBe('/users/..%2Fa%20b%2F%3F%23%25');
  });

  it('refuses a missing or empty parameter instead of sending a malformed path', () => {
    expect(() => buildPath('updateUser')).toThrow(/missing path parameter userId/);
    expect(() => buildPath('updateUser', { userId: '' })).toThrow(/missing path parameter userId/);
  });
});
