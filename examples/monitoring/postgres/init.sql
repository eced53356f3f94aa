-- One database per service (each service creates its own tables at start-up). Run by the postgres
-- image's entrypoint on the first start of an empty data volume only.
CREATE DATABASE users;
CREATE DATABASE catalog;
CREATE DATABASE orders;
