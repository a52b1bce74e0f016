/** Personal API tokens in the SQLite file: one row per token, its digest only (see `PersonalTokenStore`). */
import type Database from "better-sqlite3";
import type { PersonalTokenOwner, PersonalTokenRecord, PersonalTokenStore } from "../store.js";

interface TokenRow {
  id: string;
  label: string;
  owner_id: string;
  owner: string;
  digest: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

const fromRow = (row: TokenRow): PersonalTokenRecord => ({
  id: row.id,
  label: row.label,
  owner: JSON.parse(row.owner) as PersonalTokenOwner,
  digest: row.digest,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
});

export class SqlitePersonalTokens implements PersonalTokenStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async addPersonalToken(t: PersonalTokenRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO personal_tokens (id, label, owner_id, owner, digest, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        t.id,
        t.label,
        t.owner.id,
        JSON.stringify(t.owner),
        t.digest,
        t.createdAt,
        t.expiresAt,
        t.revokedAt ?? null,
      );
  }

  async personalToken(id: string): Promise<PersonalTokenRecord | undefined> {
    const row = this.#db.prepare("SELECT * FROM personal_tokens WHERE id = ?").get(id) as
      | TokenRow
      | undefined;
    return row ? fromRow(row) : undefined;
  }

  async listPersonalTokens(ownerId: string): Promise<PersonalTokenRecord[]> {
    const rows = this.#db
      .prepare("SELECT * FROM personal_tokens WHERE owner_id = ? ORDER BY created_at DESC, id")
      .all(ownerId) as TokenRow[];
    return rows.map(fromRow);
  }

  async revokePersonalToken(id: string, ownerId: string, at: string): Promise<boolean> {
    const result = this.#db
      .prepare(
        "UPDATE personal_tokens SET revoked_at = ? WHERE id = ? AND owner_id = ? AND revoked_at IS NULL",
      )
      .run(at, id, ownerId);
    return result.changes > 0;
  }
}
