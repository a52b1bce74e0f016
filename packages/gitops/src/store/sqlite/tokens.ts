/** Personal API tokens in the SQLite file: one row per token, its digest only (see `PersonalTokenStore`). */
import type Database from "better-sqlite3";
import type { PersonalTokenOwner, PersonalTokenRecord, PersonalTokenStore } from "../store.js";
import { type DecodedTokenRow, TOKEN_COLUMNS, tokenFromRow, tokenValues } from "../tokenRow.js";

/** A row as SQLite returns it: `owner` is JSON text. */
type TokenRow = Omit<DecodedTokenRow, "owner"> & { owner: string };

const fromRow = (row: TokenRow): PersonalTokenRecord =>
  tokenFromRow({ ...row, owner: JSON.parse(row.owner) as PersonalTokenOwner });

export class SqlitePersonalTokens implements PersonalTokenStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async addPersonalToken(t: PersonalTokenRecord): Promise<void> {
    this.#db
      .prepare(`INSERT INTO personal_tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(...tokenValues(t));
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
