/**
 * Step 3 of an upsert: a user not mapped yet (or a tombstone older than the event). Match
 * before create: the event's email is checked, then the email an unfinished create of this user
 * was sent with; an account found is linked only when `identity.ts` allows it, and gets the
 * event's fields and our partner id. Otherwise the create is claimed and sent, and a duplicate
 * answer is resolved by another check.
 *
 * Create first (`context.createFirst`: an import in that mode, a live provider): a user with an
 * email and no unfinished create of its own is claimed and created without the check; a
 * duplicate answer goes the same way as above (check, identity rules, link or refuse). A user
 * with an unfinished create is matched first as usual, so its own orphan is found by the email
 * its claim remembers.
 */

import {
  AwaitingWebhookError,
  BadRequestError,
  ConflictError,
  IdentityConflictError,
  NotReadyError,
} from '#lib/errors.ts';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import {
  afterCreateBody,
  linkBodies,
  presentFields,
  stateAfterCreateOrLink,
} from '#lib/sync/field-plan.ts';
import { createClientBody, createProviderBody } from '#lib/sync/fields.ts';
import { decideMatch, type MatchDecision } from '#lib/sync/identity.ts';
import type { UphealCall, UphealPort } from '#lib/sync/ports.ts';
import type { ProviderList } from '#lib/sync/provider-lists.ts';
import { type Applied, saveCreatedOrLinked } from '#lib/sync/save-created.ts';
import type { SyncOutcome, SyncUserContext, SyncUserDeps, Upsert } from '#lib/sync/sync-types.ts';
import { resolveTherapist, type Therapist } from '#lib/sync/therapist.ts';

/** How long a create-path claim holds off other workers (longer than one create attempt). */
export const CLAIM_LEASE_MS = 60_000;
/** When the claim is held elsewhere, try again after this long. */
const CLAIM_BUSY_RETRY_MS = 5_000;
/** When a create answered 409 without an email to check, look for the healed mapping after this long. */
const WEBHOOK_WAIT_RETRY_MS = 10_000;
/** When a client's primary provider is being deleted, look again after this long. */
const PROVIDER_DELETE_RETRY_MS = 10_000;

/** Creates or links the user, then saves its mapping. */
export async function createOrLink(
  upsert: Upsert,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const therapist = upsert.kind === 'client' ? await resolveTherapist(upsert, deps) : undefined;
  const followUps = callsAfterCreate(upsert, therapist?.fullList !== undefined);
  if (await createsFirst(upsert, context, deps)) {
    const applied = await create(upsert, therapist, context, deps, followUps);
    return saveCreatedOrLinked(upsert, applied, therapist, context, deps);
  }
  const match = await findMatch(upsert, [createCall(upsert), ...followUps], deps);
  const applied = match.found
    ? await link(upsert, match.found, deps)
    : await create(upsert, therapist, context, deps);
  return saveCreatedOrLinked(upsert, applied, therapist, context, deps);
}

/**
 * Whether to send the create without a check: asked for, and the user has an email (a duplicate
 * answer is resolved by checking it) and no unfinished create of its own (whose orphan the check
 * of its remembered email finds first).
 */
async function createsFirst(
  upsert: Upsert,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<boolean> {
  if (!context.createFirst || !upsert.fields.email) return false;
  return (await deps.mappings.pendingCreate(upsert.partnerUserId)) === undefined;
}

/**
 * The account to link, found by the event's email or by the one an unfinished create was sent
 * with; none when there is none. Throws when the event's email finds an account that may not be
 * linked. The remembered email is only a lead to our own orphan: an account it finds that may
 * not be linked (another partner user took that email since) is passed over.
 */
async function findMatch(
  upsert: Upsert,
  ifNew: readonly UphealCall[],
  deps: SyncUserDeps,
): Promise<{ found?: Found }> {
  const eventEmail = upsert.fields.email;
  if (eventEmail) {
    const byEvent = linkable(await matchByEmail(upsert, eventEmail, ifNew, deps));
    if (byEvent)
      return { found: { uphealUserId: byEvent, email: eventEmail, byPendingEmail: false } };
  }
  const email = (await deps.mappings.pendingCreate(upsert.partnerUserId))?.email;
  if (email === undefined || email === eventEmail) return {};
  // The calls that follow were announced with the first check, when there was one.
  const decision = await matchByEmail(upsert, email, eventEmail ? [] : ifNew, deps);
  return decision.action === 'link'
    ? { found: { uphealUserId: decision.uphealUserId, email, byPendingEmail: true } }
    : {};
}

/** The create call of the user's kind. */
function createCall(upsert: Upsert): UphealCall {
  return upsert.kind === 'provider' ? 'createProvider' : 'createClient';
}

/**
 * The calls that follow a successful create (their slots are booked with the check that comes
 * before it, or with the create itself when it is sent first): a provider's follow-up update, a
 * client's full list.
 */
function callsAfterCreate(upsert: Upsert, fullList: boolean): UphealCall[] {
  const calls: UphealCall[] = [];
  if (afterCreateBody(upsert.kind, upsert.fields)) calls.push('updateUser');
  if (fullList) calls.push('replaceProviders');
  return calls;
}

/** An account to link: its Upheal id, the email it was found by, and whether a claim named it. */
interface Found {
  readonly uphealUserId: string;
  readonly email: string;
  /** Found by the email a claim remembered: the claim (and that email) can go once linked. */
  readonly byPendingEmail: boolean;
}

/**
 * Checks one email and decides, under the identity rules, whether to link, create or refuse.
 * `afterRefusedCreate`: the check follows this user's create, answered "duplicate".
 */
async function matchByEmail(
  upsert: Upsert,
  email: string,
  ifNew: readonly UphealCall[],
  deps: SyncUserDeps,
  afterRefusedCreate = false,
): Promise<MatchDecision> {
  const check = await deps.upheal.checkUser(email, ifNew);
  const owner = check.exists ? await deps.mappings.findByUphealId(check.userId) : undefined;
  // An account nobody maps may still be another partner user's: its create went out with this
  // email and its mapping is not written yet (in flight, or its answer was lost).
  const claimants =
    check.exists && !owner ? await deps.mappings.createClaimantsOf(email) : undefined;
  const { partnerUserId, kind } = upsert;
  return decideMatch({ partnerUserId, kind, check, owner, claimants, afterRefusedCreate });
}

/** The Upheal id to link, undefined to create; a refusal is thrown (no mutating call made). */
function linkable(decision: MatchDecision): string | undefined {
  if (decision.action === 'refuse') throw new IdentityConflictError(decision.code, decision.detail);
  return decision.action === 'link' ? decision.uphealUserId : undefined;
}

/** Links an existing account: it gets the event's fields and our partner id. */
async function link(upsert: Upsert, found: Found, deps: SyncUserDeps): Promise<Applied> {
  const { uphealUserId, email } = found;
  const { partnerUserId, kind, fields } = upsert;
  const bodies = linkBodies(partnerUserId, kind, fields);
  await deps.upheal.updateUser(uphealUserId, bodies.common);
  if (bodies.provider) await deps.upheal.updateProvider(uphealUserId, bodies.provider);
  // The account may be our own earlier create of this user (its worker died before the mapping
  // was written): it may hold the optional fields that create set, which a link cannot clear.
  const sentBefore = (await deps.mappings.pendingCreate(partnerUserId))?.fields;
  const fieldState = stateAfterCreateOrLink(partnerUserId, kind, fields, {
    linkedByEmail: email,
    sentBefore,
  });
  return { uphealUserId, linked: true, fieldState, releaseClaim: found.byPendingEmail };
}

/**
 * Claims the create, sends it, and for a provider the fields its create cannot take. `ifCreated`
 * is given when the create is sent first (no check announced the calls after it): it names them.
 */
async function create(
  upsert: Upsert,
  therapist: Therapist | undefined,
  context: SyncUserContext,
  deps: SyncUserDeps,
  ifCreated?: readonly UphealCall[],
): Promise<Applied> {
  const { partnerUserId, kind, fields } = upsert;
  await claimCreate(upsert, context, deps);
  let created: { userId: string; inviteUrl?: string | undefined };
  try {
    created =
      kind === 'provider'
        ? await deps.upheal.createProvider(
            createProviderBody(partnerUserId, fields as ProviderFields),
            ifCreated,
          )
        : await deps.upheal.createClient(
            createClientBody(partnerUserId, fields as ClientFields, therapist!.uphealUserId),
            ifCreated,
          );
  } catch (error) {
    return afterCreateRefused(error, upsert, therapist, context, deps);
  }
  const followUp = afterCreateBody(kind, fields);
  const followUpFailed = followUp
    ? !(await sendQuietly(() => deps.upheal.updateUser(created.userId, followUp)))
    : false;
  const known = therapist
    ? await assignAfterCreate(deps.upheal, created.userId, therapist)
    : undefined;
  return {
    uphealUserId: created.userId,
    linked: false,
    inviteUrl: created.inviteUrl,
    known,
    fieldState: stateAfterCreateOrLink(partnerUserId, kind, fields, { followUpFailed }),
    releaseClaim: false,
    checkSkipped: ifCreated !== undefined,
  };
}

/**
 * A create refused by Upheal. A 409, or the 400 some create endpoints answer for a duplicate,
 * may mean the user exists already: checked again and linked if the identity rules allow. A 400
 * for a client whose primary provider is being deleted waits for that delete to settle.
 */
async function afterCreateRefused(
  error: unknown,
  upsert: Upsert,
  therapist: Therapist | undefined,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<Applied> {
  const maybeDuplicate = error instanceof ConflictError || error instanceof BadRequestError;
  const email = upsert.fields.email;
  const existing =
    maybeDuplicate && email ? await linkableAfterRefusal(upsert, email, context, deps) : undefined;
  if (existing && email) {
    return link(upsert, { uphealUserId: existing, email, byPendingEmail: false }, deps);
  }
  if (error instanceof ConflictError && !email) {
    // Nothing to check: the 409 may be our own earlier create whose answer was lost. Upheal's
    // user-created webhook names it (lib/upheal-webhook), which heals the mapping.
    throw new AwaitingWebhookError(
      `create of ${upsert.partnerUserId} answered 409 and it has no email: waiting for Upheal's user-created webhook`,
      WEBHOOK_WAIT_RETRY_MS,
    );
  }
  if (therapist && error instanceof BadRequestError) {
    const provider = await deps.mappings.get(therapist.partnerUserId);
    const providerGoing =
      provider?.state !== 'active' ||
      provider.uphealUserId !== therapist.uphealUserId ||
      provider.deleteSent !== undefined;
    if (providerGoing) {
      throw new NotReadyError(
        `primary provider ${therapist.partnerUserId} of client ${upsert.partnerUserId} is being deleted`,
        PROVIDER_DELETE_RETRY_MS,
      );
    }
  }
  throw error;
}

/**
 * The account a create answered "duplicate" ran into, when it may be linked. A refusal makes the
 * claim this create wrote first forget its email: the create made nothing, and a claim left with
 * that email would later pass this user for the account's creator.
 */
async function linkableAfterRefusal(
  upsert: Upsert,
  email: string,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<string | undefined> {
  const decision = await matchByEmail(upsert, email, [], deps, true);
  if (decision.action === 'refuse') await forgetCreateEmail(upsert, context, deps);
  return linkable(decision);
}

/**
 * Drops the email of this message's claim. `releaseClaim` removes a claim the store keeps apart
 * from the user's mapping; the claim taken again, with nothing to remember, replaces one it keeps
 * on the user's own item (and holds off other creates while the message ends, as before).
 */
async function forgetCreateEmail(
  upsert: Upsert,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<void> {
  const { partnerUserId } = upsert;
  await deps.mappings.releaseClaim(partnerUserId);
  await deps.mappings.claim(partnerUserId, context.claimOwner, CLAIM_LEASE_MS, {});
}

/**
 * Claims the create of a user (never two creates): only one worker may create it while its lease
 * lasts, and a worker that is refused comes back later, when the mapping the other one saved
 * sends it down the update path. The claim comes after the check, right before the create, so a
 * message deferred for a slot holds no claim and writes none; a mapping saved since this attempt
 * read it (a worker whose lease ran out) makes the claim fail. The claim remembers the email the
 * create is sent with, for a retry to find the user if this worker dies.
 */
async function claimCreate(
  upsert: Upsert,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<void> {
  const { partnerUserId, mapping, fields } = upsert;
  const pending = { email: fields.email, fields: presentFields(fields), version: upsert.version };
  const { claimOwner } = context;
  if (
    !(await deps.mappings.claim(partnerUserId, claimOwner, CLAIM_LEASE_MS, pending, mapping?.rev))
  ) {
    throw new NotReadyError(
      `create of ${partnerUserId} is claimed by another worker, or its mapping changed`,
      CLAIM_BUSY_RETRY_MS,
    );
  }
}

/**
 * What Upheal's provider list of a just-created client is: its primary alone, or its full list
 * when it has more and all are mapped (sent now). Undefined when that call failed (it may still
 * have taken effect: unknown); the assignment job, queued after the mapping is saved, sends it.
 */
async function assignAfterCreate(
  upheal: UphealPort,
  uphealUserId: string,
  therapist: Therapist,
): Promise<ProviderList | undefined> {
  const { fullList } = therapist;
  if (!fullList) return { partner: [therapist.partnerUserId], upheal: [therapist.uphealUserId] };
  const sent = await sendQuietly(() => upheal.replaceProviders(uphealUserId, [...fullList.upheal]));
  return sent ? fullList : undefined;
}

/** Runs a follow-up call whose failure is reported rather than thrown: true when it went out. */
async function sendQuietly(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch {
    return false;
  }
}
