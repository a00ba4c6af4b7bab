-- A body with dollar quotes and two statements: sent verbatim.
CREATE OR REPLACE FUNCTION get_nodes_system(p_user uuid, p_limit integer)
RETURNS SETOF nodes LANGUAGE sql STABLE AS $$
  SELECT * FROM nodes WHERE owner = p_user LIMIT p_limit;
$$;
COMMENT ON FUNCTION get_nodes_system(uuid, integer) IS 'nodes of a user';
