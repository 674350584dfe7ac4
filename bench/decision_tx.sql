-- pgbench: the database work of one decision, done directly:
-- lock the version row, insert the decision and its event, update the version.
\set v random(1, :nversions)
BEGIN;
SELECT state FROM versions WHERE id = 'bv-' || lpad(:v::text, 7, '0') FOR UPDATE;
INSERT INTO decisions (id, version_id, board_id, outcome, decided_on, paragraph, case_number,
                       recorded_by, recorded_by_role, recorded_at)
  VALUES (gen_random_uuid()::text, 'bv-' || lpad(:v::text, 7, '0'), 'tyreso', 'tabled',
          '2019-06-10', '§ 60', '2019/KS 0260 005', 'pgbench', 'board', now());
INSERT INTO events (at, type, actor_name, actor_role, program_id, version_id, board_id, data,
                    chain, prev_hash, hash)
  VALUES (now(), 'decision.recorded', 'pgbench', 'board', 'bp-' || lpad(:v::text, 7, '0'),
          'bv-' || lpad(:v::text, 7, '0'), 'tyreso', '{"outcome": "tabled"}', 'pgbench',
          repeat('0', 64), repeat('0', 64));
UPDATE versions SET state = state WHERE id = 'bv-' || lpad(:v::text, 7, '0');
COMMIT;
