"""Storage and real data: the chunk store every dataset is kept in (store), writing a clip as a video file
(video), and real video sets listed, decoded and prepared into the store (real)."""
