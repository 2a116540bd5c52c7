/** What an answer to `DELETE /users/{id}` means, decided without HTTP. */
import { describe, expect, it } from 'vitest';
import { BadRequestError, ForbiddenError, NotFoundError, ServerError } from '#lib/errors.ts';
import { deleteErrorMeaning } from '#lib/sync/delete-user.ts';

type UpstreamClass =
  | typeof BadRequestError
  | typeof ForbiddenError
  | typeof NotFoundError
  | typeof ServerError;

const error = (Type: UpstreamClass, status: number) =>
  new Type(`upheal deleteUser: HTTP ${status}`, status, undefined, undefined);

describe('deleteErrorMeaning', () => {
  it('takes 404 as done, on a first attempt too', () => {
    expect(deleteErrorMeaning(error(NotFoundError, 404), false)).toBe('gone');
  });

  it('takes 400 and 403 as done once a delete of the user was sent', () => {
    expect(deleteErrorMeaning(error(BadRequestError, 400), true)).toBe('gone');
    expect(deleteErrorMeaning(error(ForbiddenError, 403), true)).toBe('gone');
  });

  it('fails on 400 or 403 to a first attempt (a refusal, not a gone user)', () => {
    expect(deleteErrorMeaning(error(BadRequestError, 400), false)).toBe('failed');
    expect(deleteErrorMeaning(error(ForbiddenError, 403), false)).toBe('failed');
  });

  it('fails on anything else, so the consumer retries or records it', () => {
    expect(deleteErrorMeaning(error(ServerError, 503), true)).toBe('failed');
    expect(deleteErrorMeaning(new Error('socket'), true)).toBe('failed');
  });
});
