/**
 * The simulated Upheal user base: users keyed by Upheal id, with email (trimmed, case-insensitive)
 * and partnerUserId unique across all users (upheal-api.md §8 rows 6–7). Pure in-memory state; the
 * HTTP layer decides statuses.
 */
import { randomUUID } from 'node:crypto';
import { USER_TYPES, type UserType } from './schemas.ts';

/** One simulated Upheal user, as `/__sim/users` shows it. */
export interface SimUser {
  userId: string;
  userType: UserType;
  partnerUserId?: string;
  firstName: string;
  lastName: string;
  email?: string;
  phoneNumber?: string;
  phoneCountryCode?: string;
  locale?: string;
  pronoun?: string;
  dateOfBirth?: string;
  nationalProviderIdentifier?: string;
  therapyLicence?: string;
  noteIdentifier?: string;
  defaultNoteTemplateIds?: string[];
  /** A client's assigned providers (Upheal ids), in the order last sent. */
  providerUserIds?: string[];
  isActive: boolean;
  /** ISO timestamp of creation. */
  createdAt: string;
}

/** Fields given when creating a user (id and timestamps are filled in). */
export type NewUser = Omit<SimUser, 'userId' | 'createdAt' | 'isActive'> & {
  userId?: string;
  isActive?: boolean;
};

/** Why a write was refused: which unique field collided. */
export type Conflict = { readonly conflict: 'email' | 'partnerUserId' | 'userId' };

/** Normalises an email for matching: trimmed, lower case. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

/** The in-memory user store with its two unique indexes. */
export class UserStore {
  readonly #users = new Map<string, SimUser>();
  readonly #byEmail = new Map<string, string>();
  readonly #byPartnerId = new Map<string, string>();

  /** All users, oldest first (copies). */
  list(): SimUser[] {
    return [...this.#users.values()].map((user) => structuredClone(user));
  }

  /** The user with this Upheal id. */
  get(userId: string): SimUser | undefined {
    return this.#users.get(userId);
  }

  /** The user with this Upheal id, or else with this partnerUserId. */
  getByIdOrPartnerId(id: string): SimUser | undefined {
    const byId = this.#users.get(id);
    if (byId) return byId;
    const userId = this.#byPartnerId.get(id);
    return userId === undefined ? undefined : this.#users.get(userId);
  }

  /** The user with this email (matched trimmed and case-insensitively). */
  getByEmail(email: string): SimUser | undefined {
    const userId = this.#byEmail.get(emailKey(email));
    return userId === undefined ? undefined : this.#users.get(userId);
  }

  /** Which unique field a new or changed user would collide on, if any. */
  findConflict(
    fields: { email?: string; partnerUserId?: string; userId?: string },
    self?: string,
  ): Conflict | undefined {
    if (fields.userId !== undefined && this.#users.has(fields.userId)) {
      return { conflict: 'userId' };
    }
    const emailOwner =
      fields.email === undefined ? undefined : this.#byEmail.get(emailKey(fields.email));
    if (emailOwner !== undefined && emailOwner !== self) return { conflict: 'email' };
    const partnerOwner =
      fields.partnerUserId === undefined ? undefined : this.#byPartnerId.get(fields.partnerUserId);
    if (partnerOwner !== undefined && partnerOwner !== self) return { conflict: 'partnerUserId' };
    return undefined;
  }

  /** Adds a user, or answers which unique field collides. */
  create(fields: NewUser): SimUser | Conflict {
    const conflict = this.findConflict(fields);
    if (conflict) return conflict;
    const user: SimUser = {
      ...withoutUndefined(fields),
      userId: fields.userId ?? randomUUID(),
      email: fields.email?.trim(),
      isActive: fields.isActive ?? true,
      createdAt: new Date().toISOString(),
    };
    if (user.email === undefined) delete user.email;
    if (user.userType === USER_TYPES.client) user.providerUserIds ??= [];
    this.#users.set(user.userId, user);
    this.#index(user);
    return user;
  }

  /** Applies the given fields to a user (absent fields unchanged), or answers the collision. */
  update(user: SimUser, fields: Partial<SimUser>): SimUser | Conflict {
    const conflict = this.findConflict(fields, user.userId);
    if (conflict) return conflict;
    this.#unindex(user);
    Object.assign(user, withoutUndefined(fields));
    this.#index(user);
    return user;
  }

  /** Removes a user, freeing its email and partnerUserId, and unassigns a removed provider. */
  delete(user: SimUser): void {
    this.#unindex(user);
    this.#users.delete(user.userId);
    if (user.userType !== USER_TYPES.provider) return;
    for (const other of this.#users.values()) {
      if (other.providerUserIds?.includes(user.userId)) {
        other.providerUserIds = other.providerUserIds.filter((id) => id !== user.userId);
      }
    }
  }

  /** Forgets every user. */
  clear(): void {
    this.#users.clear();
    this.#byEmail.clear();
    this.#byPartnerId.clear();
  }

  #index(user: SimUser): void {
    if (user.email !== undefined) this.#byEmail.set(emailKey(user.email), user.userId);
    if (user.partnerUserId !== undefined) this.#byPartnerId.set(user.partnerUserId, user.userId);
  }

  #unindex(user: SimUser): void {
    if (user.email !== undefined) this.#byEmail.delete(emailKey(user.email));
    if (user.partnerUserId !== undefined) this.#byPartnerId.delete(user.partnerUserId);
  }
}

/** Whether a store answer is a collision. */
export function isConflict(value: SimUser | Conflict): value is Conflict {
  return 'conflict' in value;
}

function withoutUndefined<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;
}
