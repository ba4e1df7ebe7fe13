//! utrust-smev
