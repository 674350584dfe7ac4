-- pgbench: every statement ratify sends for one ordinary decision (an approval
-- that puts no version in force), in its order, as SQL written by hand: the
-- token look-up, then the transaction (version lock, the members' standing
-- decisions, the decision, the chain head's lock with the writers' lock, the
-- event and the head's move in one statement, the board's reminders stopped,
-- the live webhooks). The outcome is `tabled`, so any number of transactions
-- can run on the same version.
\set v random(1, :nversions)
SELECT id, name, role, board_id, token_hash, last_used_at, revoked_at
  FROM api_keys WHERE token_hash = md5(:v::text) || md5(:v::text);
BEGIN;
SELECT id, program_id, label, state, drafted_on, valid_from, valid_until, replaces,
       superseded_by, sent_out_at, respond_by, in_force_from, superseded_on, document_title,
       document_url, document_sha256, imported, created_at, created_by, final_on, entries,
       final_noted_on
  FROM versions WHERE id = 'bv-' || lpad(:v::text, 7, '0') FOR UPDATE;
SELECT program_boards.board_id AS member, decisions.*
  FROM program_boards LEFT OUTER JOIN decisions
    ON decisions.version_id = 'bv-' || lpad(:v::text, 7, '0')
   AND decisions.board_id = program_boards.board_id
 WHERE program_boards.program_id = 'bp-' || lpad(:v::text, 7, '0')
 ORDER BY program_boards.position, decisions.recorded_at, decisions.id;
INSERT INTO decisions (id, version_id, board_id, outcome, decided_on, paragraph, case_number,
                       status, corrected, recorded_by, recorded_by_role, recorded_by_board,
                       recorded_at)
  VALUES (gen_random_uuid()::text, 'bv-' || lpad(:v::text, 7, '0'), 'tyreso', 'tabled',
          '2019-06-10', '§ 60', '2019/KS 0260 005', 'standing', false, 'pgbench', 'board',
          'tyreso', now());
SELECT seq, hash, pg_advisory_xact_lock_shared(8241996789104312321)
  FROM chain_heads WHERE chain = 'bp-' || lpad(:v::text, 7, '0') FOR UPDATE;
WITH written AS (
  INSERT INTO events (at, type, actor_name, actor_role, actor_board_id, program_id, version_id,
                      board_id, data, chain, prev_hash, hash)
    VALUES (now(), 'decision.recorded', 'pgbench', 'board', 'tyreso',
            'bp-' || lpad(:v::text, 7, '0'), 'bv-' || lpad(:v::text, 7, '0'), 'tyreso',
            '{"outcome": "tabled", "paragraph": "§ 60", "case_number": "2019/KS 0260 005"}',
            'bp-' || lpad(:v::text, 7, '0'), repeat('0', 64), md5(random()::text) || repeat('0', 32))
    RETURNING seq, chain, hash),
moved AS (
  UPDATE chain_heads SET seq = written.seq, hash = written.hash
    FROM written WHERE chain_heads.chain = written.chain)
SELECT seq FROM written;
DELETE FROM reminder_schedule
 WHERE version_id = 'bv-' || lpad(:v::text, 7, '0') AND board_id = 'tyreso';
SELECT id FROM reminders
 WHERE version_id = 'bv-' || lpad(:v::text, 7, '0') AND status = 'pending' AND board_id = 'tyreso';
SELECT id, events, board_id FROM webhooks WHERE deleted_at IS NULL;
COMMIT;
