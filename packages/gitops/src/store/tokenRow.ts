/**
 * The personal tokens table's row as both stores hold it (same columns in
 * SQLite and PostgreSQL): the columns and values of an insert, and how a row
 * reads back once each store decoded its `owner` JSON column.
 */
import type { PersonalTokenOwner, PersonalTokenRecord } from "./store.js";

/** A row of the personal tokens table with `owner` decoded (PostgreSQL's driver does it; SQLite's store does). */
export interface DecodedTokenRow {
  id: string;
  label: string;
  owner: PersonalTokenOwner;
  digest: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

/** The columns in insert order (see {@link tokenValues}). */
export const TOKEN_COLUMNS = "id, label, owner_id, owner, digest, created_at, expires_at, revoked_at";

/** A token's values in {@link TOKEN_COLUMNS} order; `owner` as JSON text. */
export function tokenValues(t: PersonalTokenRecord): unknown[] {
  return [
    t.id,
    t.label,
    t.owner.id,
    JSON.stringify(t.owner),
    t.digest,
    t.createdAt,
    t.expiresAt,
    t.revokedAt ?? null,
  ];
}

/** A personal token as recorded. */
export function tokenFromRow(row: DecodedTokenRow): PersonalTokenRecord {
  return {
    id: row.id,
    label: row.label,
    owner: row.owner,
    digest: row.digest,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
  };
}
