-- Two statements and a dollar-quoted body: sent verbatim, never split by preflight.
CREATE TABLE IF NOT EXISTS nodes (
    id        uuid PRIMARY KEY,
    system_id uuid NOT NULL,
    depth     integer NOT NULL DEFAULT 0,
    label     text   -- a comment; with a semicolon
);

CREATE OR REPLACE FUNCTION get_nodes_system(p_system uuid, p_depth integer)
RETURNS SETOF nodes
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- semicolons; and 'quotes' inside the body must reach the server untouched
    RETURN QUERY
        SELECT n.* FROM nodes n
         WHERE n.system_id = p_system AND n.depth <= p_depth
         ORDER BY n.depth;
END;
$$;
