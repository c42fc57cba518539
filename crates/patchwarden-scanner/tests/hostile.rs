pub fn dummy() {}
