/**
 * Step 2 of an upsert: a mapped user. Only the bodies whose hash changed are sent; fields
 * Upheal cannot change or clear are reported (see `field-plan.ts`).
 */

import { NotFoundError, NotReadyError } from '#lib/errors.ts';
import type { ClientFields } from '#lib/events/user-fields.ts';
import type { UserKind, UserMapping, Version } from '#lib/store/mapping-store.ts';
import { planUpdate, type UserFields } from '#lib/sync/field-plan.ts';
import { newerProviderList, queueAssignmentIfNeeded } from '#lib/sync/provider-lists.ts';
import { mappingDraft, saveWithRetry } from '#lib/sync/save-mapping.ts';
import type { SyncOutcome, SyncUserContext, SyncUserDeps } from '#lib/sync/sync-types.ts';
import { isStale } from '#lib/sync/version.ts';

/** When Upheal no longer has a mapped user (a delete half done?), look again after this long. */
export const DELETE_SETTLE_RETRY_MS = 10_000;

/** Sends the changed bodies of a mapped user, then saves the new hashes. */
export async function updateUser(
  mapping: UserMapping,
  uphealUserId: string,
  kind: UserKind,
  fields: UserFields,
  version: Version,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const { partnerUserId } = mapping;
  const plan = planUpdate(mapping, kind, fields);
  try {
    if (plan.common) await deps.upheal.updateUser(uphealUserId, plan.common);
    if (plan.provider) await deps.upheal.updateProvider(uphealUserId, plan.provider);
  } catch (error) {
    // Upheal no longer has the user while our mapping does: most likely a delete of this user
    // is half done (Upheal answered, the tombstone not yet written). Wait for it to settle; if
    // the user is really gone from Upheal, the wait runs out and the reason says so.
    if (error instanceof NotFoundError) {
      throw new NotReadyError(
        `Upheal has no user ${uphealUserId} for ${partnerUserId} (a delete in progress?)`,
        DELETE_SETTLE_RETRY_MS,
      );
    }
    throw error;
  }
  const changed = plan.common !== undefined || plan.provider !== undefined;
  const providers =
    kind === 'provider' ? undefined : newerProviderList(mapping, fields as ClientFields, version);
  let overtaken = false;
  const saved = await saveWithRetry(
    deps.mappings,
    partnerUserId,
    (current) => {
      // A newer event of this user was applied meanwhile (from the other queue): our call may
      // have landed after its one, so Upheal's fields are unknown now — the next event of the
      // user sends them all again.
      if (current && isStale(version, current.version)) {
        overtaken = true;
        // The fields this call sent may be in Upheal now, so a later clear of them is reported.
        const setFields = [...new Set([...(current.setFields ?? []), ...plan.setFields])];
        return {
          ...mappingDraft(current),
          commonHash: undefined,
          providerHash: undefined,
          setFields,
        };
      }
      return {
        ...mappingDraft(current ?? mapping),
        version,
        commonHash: plan.commonHash,
        providerHash: plan.providerHash,
        setFields: plan.setFields,
        unappliedFields: plan.unappliedFields,
        lastOutcome: 'updated',
        ...(providers ?? {}),
      };
    },
    { current: mapping },
  );
  if (overtaken) return { kind: 'stale', partnerUserId };
  await queueAssignmentIfNeeded(saved, mapping.desiredProviders, context, deps);
  const { unappliedFields } = plan;
  return { kind: 'updated', partnerUserId, userKind: kind, uphealUserId, changed, unappliedFields };
}
