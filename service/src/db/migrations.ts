import type { Knex } from 'knex';

interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations live in code rather than a directory so the compiled gateway carries them without
 * depending on file layout inside an image.
 */
const MIGRATIONS: Migration[] = [
  {
    name: '0001_buckets_objects',
    async up(knex) {
      await knex.schema.createTable('buckets', (t) => {
        t.bigIncrements('id').primary();
        t.text('name').notNullable().unique();
        t.text('owner').notNullable().index();
        t.text('region').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable('objects', (t) => {
        t.bigInteger('bucket_id').notNullable().references('buckets.id').onDelete('RESTRICT');
        // bytea, not text: listing order must be UTF-8 byte order whatever the database collation.
        t.binary('key').notNullable();
        t.bigInteger('size').notNullable();
        t.text('etag').notNullable();
        t.timestamp('last_modified', { useTz: true }).notNullable();
        t.text('content_type');
        t.text('content_encoding');
        t.text('content_disposition');
        t.text('content_language');
        t.text('cache_control');
        t.text('expires');
        t.jsonb('user_metadata').notNullable().defaultTo('{}');
        t.jsonb('checksums').notNullable().defaultTo('{}');
        t.text('blob_id');
        t.binary('inline_data');
        t.binary('wrapped_key').notNullable();
        t.integer('segment_size').notNullable();
        t.primary(['bucket_id', 'key']);
      });
      await knex.raw(
        'ALTER TABLE objects ADD CONSTRAINT objects_one_location CHECK ((blob_id IS NULL) <> (inline_data IS NULL))',
      );
      await knex.raw('CREATE UNIQUE INDEX objects_blob_id ON objects (blob_id) WHERE blob_id IS NOT NULL');
      // Blobs whose metadata reference was dropped in a committed transaction; removed after commit.
      await knex.schema.createTable('blob_trash', (t) => {
        t.text('blob_id').primary();
        t.timestamp('queued_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
    },
    async down(knex) {
      await knex.schema.dropTable('blob_trash');
      await knex.schema.dropTable('objects');
      await knex.schema.dropTable('buckets');
    },
  },
];

export const migrationSource: Knex.MigrationSource<Migration> = {
  async getMigrations() {
    return MIGRATIONS;
  },
  getMigrationName(m) {
    return m.name;
  },
  async getMigration(m) {
    return m;
  },
};
