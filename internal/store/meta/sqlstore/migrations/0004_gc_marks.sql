-- When a collector marked a blob deleting: a mark is owned by its
-- collector until it is old enough to be taken over (the collector died).
ALTER TABLE blobs ADD COLUMN marked_at BIGINT NOT NULL DEFAULT 0;
