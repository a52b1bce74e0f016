/** Personal API tokens in PostgreSQL: one row per token, its digest only (see `PersonalTokenStore`). */
import type { PersonalTokenRecord, PersonalTokenStore } from "../store.js";
import { type DecodedTokenRow, TOKEN_COLUMNS, tokenFromRow, tokenValues } from "../tokenRow.js";
import type { Queryable, Row } from "./pool.js";

/** A row as node-postgres returns it: `owner` (jsonb) already decoded. */
type TokenRow = DecodedTokenRow & Row;

export class PostgresPersonalTokens implements PersonalTokenStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async addPersonalToken(t: PersonalTokenRecord): Promise<void> {
    await this.#db.query(
      `INSERT INTO driftless_personal_tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      tokenValues(t),
    );
  }

  async personalToken(id: string): Promise<PersonalTokenRecord | undefined> {
    const { rows } = await this.#db.query<TokenRow>("SELECT * FROM driftless_personal_tokens WHERE id = $1", [
      id,
    ]);
    return rows[0] ? tokenFromRow(rows[0]) : undefined;
  }

  async listPersonalTokens(ownerId: string): Promise<PersonalTokenRecord[]> {
    const { rows } = await this.#db.query<TokenRow>(
      "SELECT * FROM driftless_personal_tokens WHERE owner_id = $1 ORDER BY created_at DESC, id",
      [ownerId],
    );
    return rows.map(tokenFromRow);
  }

  async revokePersonalToken(id: string, ownerId: string, at: string): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE driftless_personal_tokens SET revoked_at = $1
       WHERE id = $2 AND owner_id = $3 AND revoked_at IS NULL`,
      [at, id, ownerId],
    );
    return rowCount > 0;
  }
}
