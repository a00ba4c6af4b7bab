-- Emergency fallback: two statements, one of them with a $$ body.
CREATE TABLE IF NOT EXISTS nodes (
  id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id  uuid NOT NULL,
  parent_id uuid REFERENCES nodes (id),
  depth     integer NOT NULL DEFAULT 0,
  label     text NOT NULL
);

CREATE OR REPLACE FUNCTION get_nodes_system(p_owner uuid, p_max_depth integer)
RETURNS SETOF nodes
LANGUAGE sql STABLE
AS $$
  -- every node of one owner, down to a depth
  SELECT * FROM nodes WHERE owner_id = p_owner AND depth <= p_max_depth ORDER BY depth, label;
$$;
