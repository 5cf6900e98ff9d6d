/*! t.js placeholder: the tracker lands with the tracking-snippet work (issue 5). */
