//! PKCS#11 tokens through `cryptoki`: enumerate, initialise, PINs, on-token key
//! pairs, signing for `utrust-pki`, certificates.
//!
//! [`Pkcs11Module::open`] loads a module (SoftHSM2, Rutoken's `librtpkcs11ecp.so`,
//! OpenSC's `opensc-pkcs11.so`, …) and calls `C_Initialize` once. Tokens are found
//! by serial number or label — never by slot number, which SoftHSM changes when a
//! token is initialised. [`Pkcs11Module::session`] opens a read/write
//! [`TokenSession`] on one token for PIN, key and certificate work; a
//! [`TokenKey`] found or generated there implements [`utrust_pki::Signer`] (hash
//! on the host, `CKM_ECDSA` on the token, raw `r‖s` converted to DER), so
//! [`utrust_pki::build_request`] signs a PKCS#10 request with a key that never
//! leaves the token.
//!
//! Errors are [`DeviceError`]s naming the `C_…` function; PIN failures and a full
//! token (`CKR_DEVICE_MEMORY`) have their own variants.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use der::{Decode, Encode};
use ring::rand::{SecureRandom, SystemRandom};
use spki::AlgorithmIdentifierOwned;
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::hex::encode as hex;
use utrust_core::ports::TokenInfo;
use utrust_pki::{PkiError, Signer};

use crate::ec::{self, EcCurve};
use crate::{DeviceError, Pin};

/// Where Debian's SoftHSM2 installs its module.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Maps a cryptoki error to a [`DeviceError`] naming the `C_…` function.
fn ck(e: CkError) -> DeviceError {
    match e {
        CkError::Pkcs11(rv, function) => {
            let operation = format!("C_{function:?}");
            match rv {
                RvError::PinIncorrect => DeviceError::PinIncorrect {
                    retries_left: None,
                    count_low: false,
                },
                RvError::PinLocked => DeviceError::PinLocked,
                RvError::PinLenRange | RvError::PinInvalid => DeviceError::PinRejected {
                    operation,
                    message: rv.to_string(),
                },
                RvError::UserPinNotInitialized => DeviceError::UserPinNotInitialized,
                RvError::DeviceMemory => DeviceError::TokenFull { operation },
                RvError::TokenNotPresent | RvError::DeviceRemoved => {
                    DeviceError::NotPresent(format!("({operation}: {rv})"))
                }
                other => DeviceError::Device {
                    operation,
                    message: other.to_string(),
                },
            }
        }
        other => DeviceError::device("cryptoki", other.to_string()),
    }
}

/// A token as `C_GetTokenInfo` describes it, with its slot and PIN state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDescription {
    /// The slot id at the time of enumeration (it may change: find tokens by
    /// serial or label).
    pub slot_id: u64,
    /// Serial number as the token reports it (hex on Rutoken and SoftHSM).
    pub serial: String,
    /// Label (blank padding removed).
    pub label: String,
    /// Model.
    pub model: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// `CKF_TOKEN_INITIALIZED`.
    pub initialized: bool,
    /// `CKF_USER_PIN_INITIALIZED`.
    pub user_pin_initialized: bool,
    /// The user PIN's state.
    pub user_pin: PinStatus,
    /// The SO PIN's state.
    pub so_pin: PinStatus,
}

impl From<TokenDescription> for TokenInfo {
    fn from(t: TokenDescription) -> Self {
        TokenInfo {
            serial: t.serial,
            label: t.label,
            model: t.model,
            manufacturer: t.manufacturer,
            initialized: t.initialized,
        }
    }
}

/// PIN flags of a token (`CKF_*_PIN_COUNT_LOW`, `_FINAL_TRY`, `_LOCKED`,
/// `_TO_BE_CHANGED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinStatus {
    /// A wrong PIN has been entered since the last successful login.
    pub count_low: bool,
    /// One more wrong PIN locks it.
    pub final_try: bool,
    /// Locked.
    pub locked: bool,
    /// Must be changed (factory or administrator-set PIN).
    pub to_be_changed: bool,
}

/// How to pick a key on a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySelector {
    /// By `CKA_ID` (e.g. `pkcs11-tool --id 01` → `[0x01]`).
    Id(Vec<u8>),
    /// By `CKA_LABEL`.
    Label(String),
}

/// What to generate on the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGenSpec {
    /// The curve.
    pub curve: EcCurve,
    /// `CKA_ID` of both halves; `None` draws 16 random octets.
    pub id: Option<Vec<u8>>,
    /// `CKA_LABEL` of both halves.
    pub label: Option<String>,
}

impl KeyGenSpec {
    /// A P-256 key pair with a random 16-octet id and no label.
    pub fn p256() -> Self {
        Self {
            curve: EcCurve::P256,
            id: None,
            label: None,
        }
    }
}

/// A mechanism the token offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MechanismEntry {
    /// `CKM_…` code.
    pub code: u64,
    /// Name (`CKM_ECDSA`, the GOST vendor names, or hex for unknown vendor codes).
    pub name: String,
}

/// The token's mechanisms and which of them are GOST ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mechanisms {
    /// All mechanisms (`C_GetMechanismList`).
    pub all: Vec<MechanismEntry>,
    /// The GOST R 34.10/34.11 mechanisms among them (empty on Debian's SoftHSM2).
    pub gost: Vec<MechanismEntry>,
}

impl Mechanisms {
    /// Whether `code` is offered.
    pub fn offers(&self, code: u64) -> bool {
        self.all.iter().any(|m| m.code == code)
    }
}

/// GOST mechanisms (PKCS#11 standard and the TC26 vendor range 0xD4321000).
pub const GOST_MECHANISMS: &[(u64, &str)] = &[
    (0x1200, "CKM_GOSTR3410_KEY_PAIR_GEN"),
    (0x1201, "CKM_GOSTR3410"),
    (0x1202, "CKM_GOSTR3410_WITH_GOSTR3411"),
    (0x1203, "CKM_GOSTR3410_KEY_WRAP"),
    (0x1204, "CKM_GOSTR3410_DERIVE"),
    (0x1210, "CKM_GOSTR3411"),
    (0x1211, "CKM_GOSTR3411_HMAC"),
    (0xD432_1005, "CKM_GOSTR3410_512_KEY_PAIR_GEN"),
    (0xD432_1006, "CKM_GOSTR3410_512"),
    (0xD432_1008, "CKM_GOSTR3410_WITH_GOSTR3411_12_256"),
    (0xD432_1009, "CKM_GOSTR3410_WITH_GOSTR3411_12_512"),
    (0xD432_1012, "CKM_GOSTR3411_12_256"),
    (0xD432_1013, "CKM_GOSTR3411_12_512"),
];

/// A certificate object on a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCertificate {
    /// `CKA_ID` (the key pair's id).
    pub id: Vec<u8>,
    /// `CKA_LABEL`.
    pub label: String,
    /// `CKA_VALUE`: the certificate, DER.
    pub der: Vec<u8>,
}

/// Protection attributes of a private key, as the token reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProtection {
    /// `CKA_TOKEN`.
    pub token: bool,
    /// `CKA_PRIVATE`.
    pub private: bool,
    /// `CKA_SENSITIVE`.
    pub sensitive: bool,
    /// `CKA_EXTRACTABLE`.
    pub extractable: bool,
    /// `CKA_ALWAYS_SENSITIVE`.
    pub always_sensitive: bool,
    /// `CKA_NEVER_EXTRACTABLE`.
    pub never_extractable: bool,
    /// `CKA_LOCAL` (generated on the token).
    pub local: bool,
}

/// A loaded and initialised PKCS#11 module. Cheap to clone.
#[derive(Clone)]
pub struct Pkcs11Module {
    ctx: Pkcs11,
    path: PathBuf,
    /// Serialises the multi-step token jobs of the port (a login applies to
    /// every session of the process on that token).
    pub(crate) jobs: Arc<Mutex<()>>,
}

impl core::fmt::Debug for Pkcs11Module {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pkcs11Module")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Module {
    /// Loads the module at `path` and calls `C_Initialize` (OS locking). A module
    /// already initialised in this process is accepted.
    ///
    /// SoftHSM2 reads `SOFTHSM2_CONF` here, once per process.
    ///
    /// # Errors
    /// [`DeviceError::Module`] if the library cannot be loaded or initialised.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DeviceError> {
        let path = path.as_ref().to_path_buf();
        let module_err = |message: String| DeviceError::Module {
            path: path.display().to_string(),
            message,
        };
        let ctx = Pkcs11::new(&path).map_err(|e| module_err(e.to_string()))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(module_err(e.to_string())),
        }
        Ok(Self {
            ctx,
            path,
            jobs: Arc::new(Mutex::new(())),
        })
    }

    /// The module path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every slot with a token present, with the token's description.
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `C_GetSlotList` or `C_GetTokenInfo`.
    pub fn tokens(&self) -> Result<Vec<TokenDescription>, DeviceError> {
        let slots = self.ctx.get_slots_with_token().map_err(ck)?;
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            match self.describe(slot) {
                Ok(t) => out.push(t),
                // Removed between the two calls: not present any more.
                Err(DeviceError::NotPresent(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn describe(&self, slot: Slot) -> Result<TokenDescription, DeviceError> {
        let t = self.ctx.get_token_info(slot).map_err(ck)?;
        Ok(TokenDescription {
            slot_id: slot.id(),
            serial: t.serial_number().trim().to_owned(),
            label: t.label().trim().to_owned(),
            model: t.model().trim().to_owned(),
            manufacturer: t.manufacturer_id().trim().to_owned(),
            initialized: t.token_initialized(),
            user_pin_initialized: t.user_pin_initialized(),
            user_pin: PinStatus {
                count_low: t.user_pin_count_low(),
                final_try: t.user_pin_final_try(),
                locked: t.user_pin_locked(),
                to_be_changed: t.user_pin_to_be_changed(),
            },
            so_pin: PinStatus {
                count_low: t.so_pin_count_low(),
                final_try: t.so_pin_final_try(),
                locked: t.so_pin_locked(),
                to_be_changed: t.so_pin_to_be_changed(),
            },
        })
    }

    /// Finds a present token by serial number (preferred) or label.
    ///
    /// # Errors
    /// [`DeviceError::NotPresent`] if none matches; enumeration errors.
    pub fn find_token(&self, serial_or_label: &str) -> Result<TokenDescription, DeviceError> {
        let tokens = self.tokens()?;
        let by_serial = tokens.iter().find(|t| t.serial == serial_or_label);
        let by_label = tokens
            .iter()
            .find(|t| t.initialized && t.label == serial_or_label);
        by_serial
            .or(by_label)
            .cloned()
            .ok_or_else(|| DeviceError::NotPresent(serial_or_label.to_owned()))
    }

    fn slot_of(&self, serial_or_label: &str) -> Result<Slot, DeviceError> {
        let t = self.find_token(serial_or_label)?;
        let slots = self.ctx.get_slots_with_token().map_err(ck)?;
        slots
            .into_iter()
            .find(|s| s.id() == t.slot_id)
            .ok_or_else(|| DeviceError::NotPresent(serial_or_label.to_owned()))
    }

    /// The first present token that is not initialised (SoftHSM2 always offers
    /// one such free slot).
    ///
    /// # Errors
    /// [`DeviceError::NotPresent`] (`"free token"`) if every token is initialised.
    pub fn free_token(&self) -> Result<TokenDescription, DeviceError> {
        self.tokens()?
            .into_iter()
            .find(|t| !t.initialized)
            .ok_or_else(|| DeviceError::NotPresent("free token".into()))
    }

    /// Initialises (formats) a token with `C_InitToken`: every object on it is
    /// erased and the user PIN is un-set (set it with
    /// [`TokenSession::init_user_pin`]). `serial_or_label` picks the token; the
    /// empty string picks the first uninitialised one. No session may be open on
    /// the token. Returns the token as it is after initialisation (SoftHSM gives
    /// it a new serial number and slot id).
    ///
    /// # Errors
    /// [`DeviceError::PinIncorrect`] / [`DeviceError::PinLocked`] for the SO PIN,
    /// [`DeviceError::NotPresent`], [`DeviceError::Device`] naming `C_InitToken`
    /// (e.g. `CKR_SESSION_EXISTS`).
    pub fn init_token(
        &self,
        serial_or_label: &str,
        so_pin: &Pin,
        new_label: &str,
    ) -> Result<TokenDescription, DeviceError> {
        let target = if serial_or_label.is_empty() {
            self.free_token()?
        } else {
            self.find_token(serial_or_label)?
        };
        let before: HashSet<String> = self
            .tokens()?
            .into_iter()
            .filter(|t| t.initialized && t.serial != target.serial)
            .map(|t| t.serial)
            .collect();
        let slot = self
            .ctx
            .get_slots_with_token()
            .map_err(ck)?
            .into_iter()
            .find(|s| s.id() == target.slot_id)
            .ok_or_else(|| DeviceError::NotPresent(serial_or_label.to_owned()))?;
        self.ctx
            .init_token(slot, &so_pin.auth(), new_label)
            .map_err(|e| self.with_pin_state(ck(e), slot, true))?;
        let label = new_label.trim();
        self.tokens()?
            .into_iter()
            .find(|t| t.initialized && t.label == label && !before.contains(&t.serial))
            .ok_or_else(|| DeviceError::NotPresent(label.to_owned()))
    }

    /// Mechanisms the token offers, and which of them are GOST ones.
    ///
    /// # Errors
    /// [`DeviceError::NotPresent`], [`DeviceError::Device`] naming
    /// `C_GetMechanismList`.
    pub fn mechanisms(&self, serial_or_label: &str) -> Result<Mechanisms, DeviceError> {
        let slot = self.slot_of(serial_or_label)?;
        let list = self.ctx.get_mechanism_list(slot).map_err(ck)?;
        let all: Vec<MechanismEntry> = list
            .into_iter()
            .map(|m| {
                let code = *m;
                let name = GOST_MECHANISMS
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, n)| (*n).to_owned())
                    .unwrap_or_else(|| {
                        let s = m.to_string();
                        if s.starts_with("CKM_") {
                            s
                        } else {
                            format!("0x{code:08X}")
                        }
                    });
                MechanismEntry { code, name }
            })
            .collect();
        let gost = all
            .iter()
            .filter(|m| GOST_MECHANISMS.iter().any(|(c, _)| *c == m.code))
            .cloned()
            .collect();
        Ok(Mechanisms { all, gost })
    }

    /// Opens a read/write session on the token with that serial or label.
    ///
    /// # Errors
    /// [`DeviceError::NotPresent`], [`DeviceError::Device`] naming `C_OpenSession`.
    pub fn session(&self, serial_or_label: &str) -> Result<TokenSession, DeviceError> {
        let slot = self.slot_of(serial_or_label)?;
        let session = self.ctx.open_rw_session(slot).map_err(ck)?;
        Ok(TokenSession {
            module: self.clone(),
            slot,
            session: Arc::new(Mutex::new(session)),
        })
    }

    /// Adds the token's PIN flags to a PIN error (final try → one retry left,
    /// locked → [`DeviceError::PinLocked`]).
    fn with_pin_state(&self, e: DeviceError, slot: Slot, so: bool) -> DeviceError {
        let DeviceError::PinIncorrect { .. } = e else {
            return e;
        };
        let Ok(t) = self.describe(slot) else {
            return e;
        };
        let st = if so { t.so_pin } else { t.user_pin };
        if st.locked {
            DeviceError::PinLocked
        } else {
            DeviceError::PinIncorrect {
                retries_left: st.final_try.then_some(1),
                count_low: st.count_low || st.final_try,
            }
        }
    }
}

/// A read/write session on one token. Logging in applies to every session the
/// process has on that token; [`TokenKey`]s found here keep the session open.
pub struct TokenSession {
    module: Pkcs11Module,
    slot: Slot,
    session: Arc<Mutex<Session>>,
}

impl core::fmt::Debug for TokenSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenSession")
            .field("slot", &self.slot.id())
            .finish_non_exhaustive()
    }
}

fn lock(s: &Mutex<Session>) -> Result<MutexGuard<'_, Session>, DeviceError> {
    s.lock()
        .map_err(|_| DeviceError::device("session", "session lock poisoned"))
}

impl TokenSession {
    /// The token as it is now.
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `C_GetTokenInfo`.
    pub fn token(&self) -> Result<TokenDescription, DeviceError> {
        self.module.describe(self.slot)
    }

    fn login_as(&self, user: UserType, pin: &Pin) -> Result<(), DeviceError> {
        let s = lock(&self.session)?;
        match s.login(user, Some(&pin.auth())) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(e) => {
                Err(self
                    .module
                    .with_pin_state(ck(e), self.slot, matches!(user, UserType::So)))
            }
        }
    }

    /// Logs in as the user (`C_Login(CKU_USER)`); already logged in is fine.
    ///
    /// # Errors
    /// [`DeviceError::PinIncorrect`] (with `retries_left: Some(1)` on the final
    /// try), [`DeviceError::PinLocked`], [`DeviceError::UserPinNotInitialized`],
    /// [`DeviceError::Device`] naming `C_Login`.
    pub fn login_user(&self, pin: &Pin) -> Result<(), DeviceError> {
        self.login_as(UserType::User, pin)
    }

    /// Logs in as the security officer (`C_Login(CKU_SO)`).
    ///
    /// # Errors
    /// As [`TokenSession::login_user`], for the SO PIN.
    pub fn login_so(&self, pin: &Pin) -> Result<(), DeviceError> {
        self.login_as(UserType::So, pin)
    }

    /// Logs out (`C_Logout`); not being logged in is fine.
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `C_Logout`.
    pub fn logout(&self) -> Result<(), DeviceError> {
        let s = lock(&self.session)?;
        match s.logout() {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserNotLoggedIn, _)) => Ok(()),
            Err(e) => Err(ck(e)),
        }
    }

    /// Sets (or resets, unblocking it) the user PIN as the SO: `C_Login(CKU_SO)`,
    /// `C_InitPIN`, `C_Logout`.
    ///
    /// # Errors
    /// SO PIN errors as [`TokenSession::login_so`]; [`DeviceError::PinRejected`]
    /// for a PIN the token refuses; [`DeviceError::Device`] naming `C_InitPIN`.
    pub fn init_user_pin(&self, so_pin: &Pin, user_pin: &Pin) -> Result<(), DeviceError> {
        self.logout()?;
        self.login_so(so_pin)?;
        let r = lock(&self.session)?.init_pin(&user_pin.auth()).map_err(ck);
        let out = self.logout();
        r.and(out)
    }

    /// Changes the user PIN with `C_SetPIN` (logged out: the user's PIN).
    ///
    /// # Errors
    /// [`DeviceError::PinIncorrect`] / [`DeviceError::PinLocked`] for a wrong old
    /// PIN, [`DeviceError::PinRejected`] for a refused new one,
    /// [`DeviceError::Device`] naming `C_SetPIN`.
    pub fn change_user_pin(&self, old: &Pin, new: &Pin) -> Result<(), DeviceError> {
        let r = lock(&self.session)?.set_pin(&old.auth(), &new.auth());
        r.map_err(|e| self.module.with_pin_state(ck(e), self.slot, false))
    }

    /// Generates an EC key pair on the token (`C_GenerateKeyPair`,
    /// `CKM_EC_KEY_PAIR_GEN`), both halves with the same `CKA_ID`, on the token;
    /// the private key private, sensitive, not extractable, able to sign. Needs a
    /// user login.
    ///
    /// # Errors
    /// [`DeviceError::TokenFull`], [`DeviceError::Device`] naming
    /// `C_GenerateKeyPair` (e.g. `CKR_USER_NOT_LOGGED_IN`).
    pub fn generate_key_pair(&self, spec: &KeyGenSpec) -> Result<TokenKey, DeviceError> {
        let id = match &spec.id {
            Some(id) => id.clone(),
            None => {
                let mut id = vec![0u8; 16];
                SystemRandom::new()
                    .fill(&mut id)
                    .map_err(|_| DeviceError::device("random", "system RNG failed"))?;
                id
            }
        };
        let mut public = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(spec.curve.ec_params_der()),
            Attribute::Id(id.clone()),
        ];
        let mut private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.clone()),
        ];
        if let Some(label) = &spec.label {
            public.push(Attribute::Label(label.as_bytes().to_vec()));
            private.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        let (pub_h, priv_h) = lock(&self.session)?
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
            .map_err(ck)?;
        self.key_from_handles(priv_h, Some(pub_h), id, spec.label.clone())
    }

    fn find(&self, template: &[Attribute]) -> Result<Vec<ObjectHandle>, DeviceError> {
        lock(&self.session)?.find_objects(template).map_err(ck)
    }

    fn attrs(
        &self,
        object: ObjectHandle,
        types: &[AttributeType],
    ) -> Result<Vec<Attribute>, DeviceError> {
        lock(&self.session)?
            .get_attributes(object, types)
            .map_err(ck)
    }

    /// Finds a key pair (private key + public key with the same `CKA_ID`), e.g.
    /// one made by `pkcs11-tool --keypairgen`. Needs a user login (private keys
    /// are private objects).
    ///
    /// # Errors
    /// [`DeviceError::ObjectNotFound`], [`DeviceError::Unsupported`] for a key
    /// that is not P-256/P-384 EC, [`DeviceError::Device`] naming
    /// `C_FindObjects` or `C_GetAttributeValue`.
    pub fn find_key(&self, selector: &KeySelector) -> Result<TokenKey, DeviceError> {
        let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        match selector {
            KeySelector::Id(id) => template.push(Attribute::Id(id.clone())),
            KeySelector::Label(l) => template.push(Attribute::Label(l.as_bytes().to_vec())),
        }
        let what = || match selector {
            KeySelector::Id(id) => format!("private key with id {}", hex(id)),
            KeySelector::Label(l) => format!("private key labelled {l:?}"),
        };
        let priv_h = self
            .find(&template)?
            .into_iter()
            .next()
            .ok_or_else(|| DeviceError::ObjectNotFound(what()))?;
        let mut id = Vec::new();
        let mut label = None;
        for a in self.attrs(priv_h, &[AttributeType::Id, AttributeType::Label])? {
            match a {
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = Some(String::from_utf8_lossy(&v).into_owned()),
                _ => {}
            }
        }
        let pub_h = self
            .find(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Id(id.clone()),
            ])?
            .into_iter()
            .next();
        self.key_from_handles(priv_h, pub_h, id, label)
    }

    fn key_from_handles(
        &self,
        priv_h: ObjectHandle,
        pub_h: Option<ObjectHandle>,
        id: Vec<u8>,
        label: Option<String>,
    ) -> Result<TokenKey, DeviceError> {
        let mut key_type = None;
        let mut params = None;
        for a in self.attrs(priv_h, &[AttributeType::KeyType, AttributeType::EcParams])? {
            match a {
                Attribute::KeyType(k) => key_type = Some(k),
                Attribute::EcParams(p) => params = Some(p),
                _ => {}
            }
        }
        if key_type != Some(KeyType::EC) {
            return Err(DeviceError::Unsupported(format!(
                "key {} is not an EC key",
                hex(&id)
            )));
        }
        let curve = EcCurve::from_ec_params(&params.unwrap_or_default())?;
        let pub_h = pub_h.ok_or_else(|| {
            DeviceError::ObjectNotFound(format!("public key with id {}", hex(&id)))
        })?;
        let point = self
            .attrs(pub_h, &[AttributeType::EcPoint])?
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| DeviceError::device("C_GetAttributeValue", "no CKA_EC_POINT"))?;
        let point = ec::ec_point(&point, curve)?;
        let spki = ec::spki_der(curve, &point)?;
        Ok(TokenKey {
            session: Arc::clone(&self.session),
            handle: priv_h,
            curve,
            id,
            label,
            spki,
        })
    }

    /// The protection attributes of the private key with `CKA_ID` `id`.
    ///
    /// # Errors
    /// [`DeviceError::ObjectNotFound`], [`DeviceError::Device`] naming
    /// `C_GetAttributeValue`.
    pub fn key_protection(&self, id: &[u8]) -> Result<KeyProtection, DeviceError> {
        let h = self
            .find(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(id.to_vec()),
            ])?
            .into_iter()
            .next()
            .ok_or_else(|| DeviceError::ObjectNotFound(format!("private key {}", hex(id))))?;
        let mut p = KeyProtection {
            token: false,
            private: false,
            sensitive: false,
            extractable: true,
            always_sensitive: false,
            never_extractable: false,
            local: false,
        };
        let types = [
            AttributeType::Token,
            AttributeType::Private,
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::AlwaysSensitive,
            AttributeType::NeverExtractable,
            AttributeType::Local,
        ];
        for a in self.attrs(h, &types)? {
            match a {
                Attribute::Token(v) => p.token = v,
                Attribute::Private(v) => p.private = v,
                Attribute::Sensitive(v) => p.sensitive = v,
                Attribute::Extractable(v) => p.extractable = v,
                Attribute::AlwaysSensitive(v) => p.always_sensitive = v,
                Attribute::NeverExtractable(v) => p.never_extractable = v,
                Attribute::Local(v) => p.local = v,
                _ => {}
            }
        }
        Ok(p)
    }

    /// Writes an X.509 certificate (`CKO_CERTIFICATE`, `CKC_X_509`) with
    /// `CKA_VALUE`, `CKA_SUBJECT`, `CKA_ISSUER`, `CKA_SERIAL_NUMBER` taken from
    /// `der`, `CKA_ID` = `id` (the key pair's), `CKA_TOKEN` true, not private.
    ///
    /// # Errors
    /// [`DeviceError::Unsupported`] if `der` is not a certificate;
    /// [`DeviceError::TokenFull`]; [`DeviceError::Device`] naming `C_CreateObject`.
    pub fn write_certificate(&self, der: &[u8], id: &[u8], label: &str) -> Result<(), DeviceError> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| DeviceError::Unsupported(format!("not an X.509 certificate: {e}")))?;
        let enc = |e: der::Error| DeviceError::device("encode certificate fields", e.to_string());
        let tbs = cert.tbs_certificate();
        let template = [
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::Subject(tbs.subject().to_der().map_err(enc)?),
            Attribute::Issuer(tbs.issuer().to_der().map_err(enc)?),
            Attribute::SerialNumber(tbs.serial_number().to_der().map_err(enc)?),
            Attribute::Value(der.to_vec()),
        ];
        lock(&self.session)?.create_object(&template).map_err(ck)?;
        Ok(())
    }

    /// The X.509 certificates on the token.
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `C_FindObjects` or `C_GetAttributeValue`.
    pub fn certificates(&self) -> Result<Vec<TokenCertificate>, DeviceError> {
        let handles = self.find(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            let mut c = TokenCertificate {
                id: Vec::new(),
                label: String::new(),
                der: Vec::new(),
            };
            let types = [
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::Value,
            ];
            for a in self.attrs(h, &types)? {
                match a {
                    Attribute::Id(v) => c.id = v,
                    Attribute::Label(v) => c.label = String::from_utf8_lossy(&v).into_owned(),
                    Attribute::Value(v) => c.der = v,
                    _ => {}
                }
            }
            out.push(c);
        }
        Ok(out)
    }

    /// Creates a data object (`CKO_DATA`) of `size` octets: fills a token to
    /// provoke `CKR_DEVICE_MEMORY` in tests, or stores application data.
    ///
    /// # Errors
    /// [`DeviceError::TokenFull`], [`DeviceError::Device`] naming `C_CreateObject`.
    pub fn write_data_object(&self, label: &str, value: &[u8]) -> Result<(), DeviceError> {
        let template = [
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(value.to_vec()),
        ];
        lock(&self.session)?.create_object(&template).map_err(ck)?;
        Ok(())
    }
}

/// A private key on a token, signing X.509 structures for `utrust-pki`.
///
/// The message is hashed on the host (SHA-256 for P-256, SHA-384 for P-384, with
/// *ring*), the digest signed with `CKM_ECDSA` on the token, and the raw `r‖s`
/// converted to a DER `ECDSA-Sig-Value`. The session must be logged in as the
/// user while signing.
pub struct TokenKey {
    session: Arc<Mutex<Session>>,
    handle: ObjectHandle,
    curve: EcCurve,
    id: Vec<u8>,
    label: Option<String>,
    spki: Vec<u8>,
}

impl core::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenKey")
            .field("curve", &self.curve)
            .field("id", &hex(&self.id))
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// `CKA_ID` of the key pair.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// `CKA_LABEL`, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The curve.
    pub fn curve(&self) -> EcCurve {
        self.curve
    }

    /// Signs `message` on the token; the DER `ECDSA-Sig-Value`.
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `C_Sign` (e.g. `CKR_USER_NOT_LOGGED_IN`).
    pub fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, DeviceError> {
        let alg = match self.curve {
            EcCurve::P256 => &ring::digest::SHA256,
            EcCurve::P384 => &ring::digest::SHA384,
        };
        let digest = ring::digest::digest(alg, message);
        let raw = lock(&self.session)?
            .sign(&Mechanism::Ecdsa, self.handle, digest.as_ref())
            .map_err(ck)?;
        ec::raw_ecdsa_to_der(&raw)
    }
}

impl Signer for TokenKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.curve.key_algorithm()
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn signature_algorithm_identifier(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: match self.curve {
                EcCurve::P256 => ec::ECDSA_SHA256,
                EcCurve::P384 => ec::ECDSA_SHA384,
            },
            parameters: None,
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.try_sign(message)
            .map_err(|e| PkiError::Signing(e.to_string()))
    }
}

/// Whether the mechanism type is one of the GOST mechanisms.
pub fn is_gost_mechanism(m: MechanismType) -> bool {
    let code = *m;
    GOST_MECHANISMS.iter().any(|(c, _)| *c == code)
}

#[cfg(test)]
mod tests {
    use cryptoki::context::Function;
    use utrust_core::ports::TokenError;

    use super::*;

    #[test]
    fn pkcs11_errors_map_to_device_errors() {
        let e = |rv, f| ck(CkError::Pkcs11(rv, f));
        assert_eq!(
            e(RvError::DeviceMemory, Function::CreateObject),
            DeviceError::TokenFull {
                operation: "C_CreateObject".into()
            }
        );
        assert_eq!(
            e(RvError::PinIncorrect, Function::Login),
            DeviceError::PinIncorrect {
                retries_left: None,
                count_low: false
            }
        );
        assert_eq!(
            e(RvError::PinLocked, Function::Login),
            DeviceError::PinLocked
        );
        assert_eq!(
            e(RvError::UserPinNotInitialized, Function::Login),
            DeviceError::UserPinNotInitialized
        );
        assert!(matches!(
            e(RvError::PinLenRange, Function::InitPIN),
            DeviceError::PinRejected { operation, .. } if operation == "C_InitPIN"
        ));
        assert!(matches!(
            e(RvError::TokenNotPresent, Function::OpenSession),
            DeviceError::NotPresent(_)
        ));
        assert!(matches!(
            e(RvError::KeyHandleInvalid, Function::Sign),
            DeviceError::Device { operation, .. } if operation == "C_Sign"
        ));
        let full: TokenError = e(RvError::DeviceMemory, Function::GenerateKeyPair).into();
        assert!(matches!(
            full,
            TokenError::TokenFull { operation } if operation == "C_GenerateKeyPair"
        ));
    }

    #[test]
    fn pins_never_print() {
        let p = Pin::new("12345678");
        assert_eq!(format!("{p:?}"), "Pin([REDACTED])");
        let r = Pin::random_digits(31).unwrap_or_else(|_| Pin::new(""));
        assert_eq!(r.len(), 31);
        assert!(r.expose_secret().chars().all(|c| c.is_ascii_digit()));
        assert!(Pin::random(0, "01").is_err());
        assert!(Pin::random(4, "").is_err());
    }
}
