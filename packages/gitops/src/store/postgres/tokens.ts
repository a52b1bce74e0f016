/** Personal API tokens in PostgreSQL: one row per token, its digest only (see `PersonalTokenStore`). */
import type { PersonalTokenOwner, PersonalTokenRecord, PersonalTokenStore } from "../store.js";
import type { Queryable, Row } from "./pool.js";

interface TokenRow extends Row {
  id: string;
  label: string;
  owner: PersonalTokenOwner;
  digest: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

const fromRow = (row: TokenRow): PersonalTokenRecord => ({
  id: row.id,
  label: row.label,
  owner: row.owner,
  digest: row.digest,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
});

export class PostgresPersonalTokens implements PersonalTokenStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async addPersonalToken(t: PersonalTokenRecord): Promise<void> {
    await this.#db.query(
      `INSERT INTO driftless_personal_tokens (id, label, owner_id, owner, digest, created_at, expires_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        t.id,
        t.label,
        t.owner.id,
        JSON.stringify(t.owner),
        t.digest,
        t.createdAt,
        t.expiresAt,
        t.revokedAt ?? null,
      ],
    );
  }

  async personalToken(id: string): Promise<PersonalTokenRecord | undefined> {
    const { rows } = await this.#db.query<TokenRow>("SELECT * FROM driftless_personal_tokens WHERE id = $1", [
      id,
    ]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async listPersonalTokens(ownerId: string): Promise<PersonalTokenRecord[]> {
    const { rows } = await this.#db.query<TokenRow>(
      "SELECT * FROM driftless_personal_tokens WHERE owner_id = $1 ORDER BY created_at DESC, id",
      [ownerId],
    );
    return rows.map(fromRow);
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
