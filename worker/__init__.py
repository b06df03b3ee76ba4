"""face_embed_worker: catalog photos in, face vectors out, photos only ever in memory."""
