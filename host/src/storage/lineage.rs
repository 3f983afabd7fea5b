//! Certificate lineages: the files of one certificate (`cert.pem`, `chain.pem`,
//! `fullchain.pem`, `key.pem`, `meta.json`) checked together and made current together, in
//! one atomic step on either backend, with the previous generation kept for a rollback.
//! Nothing is made current that does not parse, match its key and name what was asked for;
//! reading a lineage checks the same and says what is wrong.

use certsmith_core::{
    CertificateInfo, PrivateKey, inspect_certificate, key_pem_matches_certificate, split_pem_chain,
};
use zeroize::Zeroizing;

use super::{Lease, Secrecy, StorageError, Store};

/// A lineage's stored files: file name and content, for the files present.
pub type StoredFiles = Vec<(String, Vec<u8>)>;

/// One generation of a certificate lineage.
pub struct Lineage {
    /// The leaf certificate (PEM).
    pub cert_pem: String,
    /// The issuer chain without the leaf (PEM; may be empty).
    pub chain_pem: String,
    /// Leaf and chain (PEM), what servers load.
    pub fullchain_pem: String,
    /// The certificate's private key (PKCS#8 PEM).
    pub key_pem: Zeroizing<String>,
    /// What certsmith keeps about it (JSON).
    pub meta_json: Vec<u8>,
}

/// The end of a PEM certificate block.
const PEM_END: &str = "-----END CERTIFICATE-----";

impl Lineage {
    /// The lineage of an issued chain (leaf first) and its key, with `meta_json`.
    pub fn from_chain(
        fullchain_pem: &str,
        key_pem: &str,
        meta_json: Vec<u8>,
    ) -> Result<Self, String> {
        let leaf_end = fullchain_pem
            .find(PEM_END)
            .map(|i| i + PEM_END.len())
            .ok_or("no PEM certificate in the chain")?;
        Ok(Self {
            cert_pem: format!("{}\n", fullchain_pem[..leaf_end].trim()),
            chain_pem: fullchain_pem[leaf_end..].trim_start().to_owned(),
            fullchain_pem: fullchain_pem.to_owned(),
            key_pem: Zeroizing::new(key_pem.to_owned()),
            meta_json,
        })
    }

    /// Checks that the files belong together: the chain parses, `cert.pem` is its leaf, the
    /// key is the leaf's (by the public key `key.pem` declares, so that reading thousands of
    /// lineages costs no scalar multiplication each), and (if given) the leaf names every
    /// one of `names`. The leaf's facts, or what is wrong.
    pub fn check(&self, names: Option<&[String]>) -> Result<CertificateInfo, String> {
        let ders =
            split_pem_chain(&self.fullchain_pem).map_err(|e| format!("fullchain.pem: {e}"))?;
        let leaf = split_pem_chain(&self.cert_pem).map_err(|e| format!("cert.pem: {e}"))?;
        if leaf.first() != ders.first() {
            return Err("cert.pem is not the first certificate of fullchain.pem".into());
        }
        let matches = key_pem_matches_certificate(&self.key_pem, &ders[0])
            .map_err(|e| format!("key.pem: {e}"))?;
        if !matches {
            return Err("key.pem is not the key of cert.pem".into());
        }
        let info = inspect_certificate(&ders[0]).map_err(|e| format!("cert.pem: {e}"))?;
        for name in names.unwrap_or_default() {
            let named = info
                .sans
                .iter()
                .any(|san| san.value.eq_ignore_ascii_case(name));
            if !named {
                return Err(format!("cert.pem does not name {name}"));
            }
        }
        Ok(info)
    }

    /// Checks the files as [`Lineage::check`] does, requiring every one of `names`, and reads
    /// the key in full (its public key derived from its secret, not taken from the file):
    /// the only way to a lineage that can be made current, with the leaf's facts.
    pub fn verify(self, names: &[String]) -> Result<(Verified, CertificateInfo), String> {
        let info = self.check(Some(names))?;
        PrivateKey::from_pem(&self.key_pem).map_err(|e| format!("key.pem: {e}"))?;
        Ok((Verified(self), info))
    }

    /// The files, in [`crate::layout::LINEAGE_FILES`] order, with their secrecy.
    fn files(&self) -> [(&'static str, &[u8], Secrecy); 5] {
        [
            ("cert.pem", self.cert_pem.as_bytes(), Secrecy::Public),
            ("chain.pem", self.chain_pem.as_bytes(), Secrecy::Public),
            (
                "fullchain.pem",
                self.fullchain_pem.as_bytes(),
                Secrecy::Public,
            ),
            ("key.pem", self.key_pem.as_bytes(), Secrecy::Secret),
            ("meta.json", self.meta_json.as_slice(), Secrecy::Public),
        ]
    }

    /// A lineage from stored files; what is missing is named.
    fn from_files(key: &str, files: StoredFiles) -> Result<Self, StorageError> {
        let mut files: std::collections::BTreeMap<String, Vec<u8>> = files.into_iter().collect();
        let mut take = |wanted: &str| {
            files.remove(wanted).ok_or_else(|| StorageError::Corrupt {
                key: format!("{key}/{wanted}"),
                reason: "missing".into(),
            })
        };
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        Ok(Self {
            cert_pem: text(take("cert.pem")?),
            chain_pem: text(take("chain.pem")?),
            fullchain_pem: text(take("fullchain.pem")?),
            key_pem: Zeroizing::new(text(take("key.pem")?)),
            meta_json: take("meta.json").unwrap_or_default(),
        })
    }
}

/// A lineage whose certificate files were checked ([`Lineage::verify`]); only its
/// `meta.json` can still change.
pub struct Verified(Lineage);

impl Verified {
    /// The same files with `meta_json` as their `meta.json`.
    pub fn with_meta(mut self, meta_json: Vec<u8>) -> Self {
        self.0.meta_json = meta_json;
        self
    }
}

impl Store {
    /// Makes the verified `lineage` the current generation of certificate `name` from `ca` in
    /// one step (fenced by `lease`); the generation it replaces becomes the previous one.
    pub async fn commit_lineage(
        &self,
        ca: &str,
        name: &str,
        lineage: &Verified,
        lease: Option<&Lease>,
    ) -> Result<(), StorageError> {
        let files = lineage.0.files();
        let fence = lease.map(Lease::fence);
        match self {
            Self::Files(store) => store.commit_lineage(ca, name, &files, fence)?,
            Self::Redis(store) => {
                let values: Vec<&[u8]> = files.iter().map(|(_, bytes, _)| *bytes).collect();
                store.commit_lineage(ca, name, &values, fence).await?;
            }
        }
        Ok(())
    }

    /// The current generation of certificate `name` from `ca` (all files from one
    /// generation), `None` if there is none. Whether its files belong together is
    /// [`Lineage::check`]'s to say.
    pub async fn read_lineage(
        &self,
        ca: &str,
        name: &str,
    ) -> Result<Option<Lineage>, StorageError> {
        let files = match self {
            Self::Files(store) => store.read_lineage(ca, name)?,
            Self::Redis(store) => store.read_lineage(ca, name).await?,
        };
        let key = crate::layout::lineage(ca, name);
        files
            .map(|files| Lineage::from_files(&key, files))
            .transpose()
    }

    /// The current generations of many lineages (`(ca, name)` pairs), in their order, read
    /// at once (on every core from files, pipelined from Redis): each one's files or what
    /// is wrong with it; an error if the store cannot be read at all.
    pub async fn read_lineages(
        &self,
        lineages: &[(String, String)],
    ) -> Result<Vec<Result<Option<Lineage>, StorageError>>, StorageError> {
        let files: Vec<Result<Option<StoredFiles>, StorageError>> = match self {
            Self::Files(store) => store.read_lineages(lineages),
            Self::Redis(store) => store
                .read_lineages(lineages)
                .await?
                .into_iter()
                .map(Ok)
                .collect(),
        };
        Ok(lineages
            .iter()
            .zip(files)
            .map(|((ca, name), files)| {
                let key = crate::layout::lineage(ca, name);
                files?
                    .map(|files| Lineage::from_files(&key, files))
                    .transpose()
            })
            .collect())
    }

    /// Makes the previous generation of certificate `name` current again (fenced by
    /// `lease`); false if there is none.
    pub async fn rollback_lineage(
        &self,
        ca: &str,
        name: &str,
        lease: Option<&Lease>,
    ) -> Result<bool, StorageError> {
        let fence = lease.map(Lease::fence);
        match self {
            Self::Files(store) => store.rollback_lineage(ca, name, fence),
            Self::Redis(store) => store.rollback_lineage(ca, name, fence).await,
        }
    }
}
