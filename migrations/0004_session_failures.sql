-- A failed upload session keeps its refusal in columns of its own (it was
-- packed into result_json as "status|message"), and a completed one is
-- replayed from its node (result_node_id), not from a stored reply.
ALTER TABLE upload_sessions ADD COLUMN failure_status INTEGER;
ALTER TABLE upload_sessions ADD COLUMN failure_message TEXT;
UPDATE upload_sessions
   SET failure_status  = CAST(substr(result_json, 1, instr(result_json, '|') - 1) AS INTEGER),
       failure_message = substr(result_json, instr(result_json, '|') + 1)
 WHERE state = 'failed' AND result_json IS NOT NULL AND instr(result_json, '|') > 0;
UPDATE upload_sessions SET result_json = NULL;
