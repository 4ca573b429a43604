"""Every read the review pages make: the queue, an encounter, the gallery, the audit log,
the images. Plain functions over the thread's database; no SQL lives elsewhere."""
