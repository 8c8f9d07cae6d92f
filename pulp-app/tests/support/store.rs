//! An artifact store in a temp directory, and a look into its `tmp/`.

use pulp_app::storage::ArtifactStore;

/// A fresh store at `<tempdir>/media`; keep the `TempDir` alive while using it.
pub async fn new_store() -> (tempfile::TempDir, ArtifactStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ArtifactStore::new(dir.path().join("media"))
        .await
        .expect("store");
    (dir, store)
}

/// The names of the files in the store's `tmp/`.
pub fn tmp_files(store: &ArtifactStore) -> Vec<String> {
    std::fs::read_dir(store.tmp_dir())
        .expect("tmp dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}
