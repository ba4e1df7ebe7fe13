//! `utrust-server demo`: the core flow in-process on the embedded default.
//!
//! It creates a catalog (two products with OID sets, one under quantity
//! accounting), an organization with a branch and an issuing point, a service,
//! and one application each for a natural person (ФЛ), a sole proprietor (ИП)
//! and a legal entity (ЮЛ). For each it reads the request template, generates a
//! key, builds and signs the PKCS#10 request, attaches it, and issues. It writes
//! `DIR/ca.pem`, `DIR/requests/*.csr.pem` and `DIR/certificates/*.pem`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::macros::date;
use utrust_core::NewApplication;
use utrust_core::domain::agents::{Branch, IssuingPoint, Organization, PointParent};
use utrust_core::domain::application::{Account, Actor, Address, CertificateOwner, Passport};
use utrust_core::domain::catalog::{ApplicantKind, OidSet, Product, Service};
use utrust_core::domain::certificate::SerialNumber;
use utrust_core::domain::identifiers::{
    AnyInn, Email, Inn, InnLe, Kpp, Ogrn, Ogrnip, Oid, PassportRf, RegionCode, Snils,
};
use utrust_core::domain::quota::{Allotment, Quota};
use utrust_core::domain::revocation::RevocationReason;
use utrust_pki::{SoftwareKey, build_request, to_pem};

use crate::bootstrap::embedded_engine;

/// Marker file that makes a directory a demo directory (safe to reset).
const MARKER: &str = ".utrust-demo";

/// Demo failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The directory holds something other than a previous demo.
    #[error("{0} is not empty and was not made by `demo`; choose another --data-dir")]
    NotADemoDir(PathBuf),
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// Path at fault.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// Start-up.
    #[error(transparent)]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    /// A use case failed.
    #[error("engine: {0}")]
    Engine(#[from] utrust_core::Error),
    /// Key or request generation failed.
    #[error("pki: {0}")]
    Pki(#[from] utrust_pki::PkiError),
    /// Demo data is invalid (a bug in the demo).
    #[error("demo data: {0}")]
    Data(#[from] utrust_core::domain::identifiers::IdentifierError),
    /// The PKCS#11 module given with `--pkcs11-module` is not there.
    #[error("--pkcs11-module {}: no such file", .0.display())]
    ModuleMissing(PathBuf),
    /// The demo's token could not be prepared or written.
    #[error("token: {0}")]
    Token(#[from] utrust_core::ports::TokenError),
    /// The PKCS#11 module could not be loaded.
    #[error("device: {0}")]
    Device(#[from] utrust_device::DeviceError),
    /// The demo could not re-run itself with its SoftHSM2 configuration.
    #[error("cannot re-run {} with SOFTHSM2_CONF={}: {message}", exe.display(), conf.display())]
    Reexec {
        /// The program.
        exe: PathBuf,
        /// The configuration file.
        conf: PathBuf,
        /// Why.
        message: String,
    },
}

/// The environment variable SoftHSM2 reads its configuration file name from.
pub const SOFTHSM2_CONF: &str = "SOFTHSM2_CONF";

/// Set in the re-executed demo (guards against a loop).
const REEXEC_GUARD: &str = "UTRUST_DEMO_SOFTHSM_REEXEC";

/// Where the demo issues its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSetup {
    /// No device: the reason (e.g. SoftHSM2 is not installed).
    Skipped(String),
    /// A SoftHSM2 token of the demo's own.
    SoftHsm {
        /// The PKCS#11 module.
        module: PathBuf,
        /// `DIR/softhsm2.conf` (absolute), its token directory `DIR/softhsm-tokens`.
        conf: PathBuf,
    },
}

/// Decides where the demo's device goes: SoftHSM2 at `module` (default
/// [`utrust_device::SOFTHSM2_MODULE`]) with `DIR/softhsm2.conf`, or skipped when
/// the default module is not installed.
///
/// # Errors
/// [`DemoError::ModuleMissing`] when an explicit `module` does not exist;
/// [`DemoError::Io`] when `dir` cannot be made absolute.
pub fn device_setup(dir: &Path, module: Option<&Path>) -> Result<DeviceSetup, DemoError> {
    device_setup_with(dir, module, Path::new(utrust_device::SOFTHSM2_MODULE))
}

/// [`device_setup`] with `default` as the module used when none is given.
fn device_setup_with(
    dir: &Path,
    module: Option<&Path>,
    default: &Path,
) -> Result<DeviceSetup, DemoError> {
    let explicit = module.is_some();
    let module = module.unwrap_or(default).to_owned();
    if !module.exists() {
        if explicit {
            return Err(DemoError::ModuleMissing(module));
        }
        return Ok(DeviceSetup::Skipped(format!(
            "the SoftHSM2 PKCS#11 module {} is not installed (Debian: apt install softhsm2)",
            module.display()
        )));
    }
    let dir = std::path::absolute(dir).map_err(io(dir))?;
    Ok(DeviceSetup::SoftHsm {
        module,
        conf: dir.join("softhsm2.conf"),
    })
}

/// Re-executes this program with `SOFTHSM2_CONF` naming the demo's
/// configuration unless it already does (SoftHSM2 reads the variable when the
/// module is initialised, and the process may not change its own environment).
/// Returns only when no re-execution is needed, or with the error.
///
/// # Errors
/// [`DemoError::Reexec`].
pub fn reexec_with_softhsm_conf(setup: &DeviceSetup) -> Result<(), DemoError> {
    let DeviceSetup::SoftHsm { conf, .. } = setup else {
        return Ok(());
    };
    if std::env::var_os(SOFTHSM2_CONF).as_deref() == Some(conf.as_os_str()) {
        return Ok(());
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("utrust-server"));
    let fail = |message: String| DemoError::Reexec {
        exe: exe.clone(),
        conf: conf.clone(),
        message,
    };
    if std::env::var_os(REEXEC_GUARD).is_some() {
        return Err(fail(
            "SOFTHSM2_CONF did not reach the re-executed demo".into(),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = std::process::Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env(SOFTHSM2_CONF, conf)
            .env(REEXEC_GUARD, "1")
            .exec();
        Err(fail(e.to_string()))
    }
    #[cfg(not(unix))]
    {
        Err(fail(
            "re-execution needs a Unix system; set SOFTHSM2_CONF yourself".into(),
        ))
    }
}

/// One issued certificate of the demo.
#[derive(Debug, Serialize)]
pub struct DemoCertificate {
    /// Applicant kind.
    pub applicant_kind: String,
    /// Application id.
    pub application_id: String,
    /// Final application status.
    pub status: String,
    /// Certificate status at the end of the demo.
    pub certificate_status: String,
    /// Serial (hex).
    pub serial: String,
    /// Subject text.
    pub subject: String,
    /// PEM file.
    pub path: PathBuf,
    /// The CSR it was issued from (PEM file).
    pub request: PathBuf,
}

/// The demo's summary (`--json`).
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    /// The CA certificate (PEM file).
    pub ca_certificate: PathBuf,
    /// Issued certificates (PEM files).
    pub certificates: Vec<PathBuf>,
    /// Certificate requests built (PEM files).
    pub requests: Vec<PathBuf>,
    /// The SQLite database.
    pub database: PathBuf,
    /// The CRL published last (PEM file).
    pub crl: PathBuf,
    /// Its CRL number.
    pub crl_number: u64,
    /// Serials of the certificates each lifecycle step acted on.
    pub lifecycle: DemoLifecycle,
    /// Details per application.
    pub issued: Vec<DemoCertificate>,
    /// The point's counters after the run.
    pub point: DemoPoint,
    /// The device issued on the demo's own SoftHSM2 token (or why not).
    pub device: DemoDevice,
}

/// The demo's device (`"device"` of `--json`): inspect the token with
/// `SOFTHSM2_CONF=<softhsm2_conf> pkcs11-tool --module <module> --login --pin
/// <user_pin> -O`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DemoDevice {
    /// Issued.
    Issued(Box<DemoIssuedDevice>),
    /// Not issued.
    Skipped {
        /// Why (e.g. SoftHSM2 is not installed).
        skipped: String,
    },
}

/// A device the demo issued.
#[derive(Debug, Serialize)]
pub struct DemoIssuedDevice {
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The SoftHSM2 configuration to set as `SOFTHSM2_CONF`.
    pub softhsm2_conf: PathBuf,
    /// The token's label.
    pub token_label: String,
    /// The random user PIN set at issuance (a demo shows it; a server shows it
    /// once to its owner).
    pub user_pin: String,
    /// The token's serial number.
    pub serial: String,
    /// `CKA_ID` of the key pair and the certificate (hex).
    pub key_id: String,
    /// The device record's id.
    pub device_id: String,
    /// The device record's status (`issued`).
    pub status: String,
    /// Serial of the certificate written to the token (hex).
    pub certificate_serial: String,
    /// The certificate as PEM file (the same as on the token).
    pub certificate: PathBuf,
}

/// What the demo did after issuance.
#[derive(Debug, Serialize)]
pub struct DemoLifecycle {
    /// Renewed, then revoked as superseded.
    pub renewed: String,
    /// The certificate issued by the renewal.
    pub renewal: String,
    /// Suspended and resumed: valid again.
    pub resumed: String,
    /// Revoked (keyCompromise).
    pub revoked: String,
    /// Left on hold (certificateHold).
    pub suspended: String,
}

/// Where the demo writes requests and certificates.
struct Files {
    requests: PathBuf,
    certificates: PathBuf,
}

/// Builds the CSR of an application from its template with a fresh key, attaches
/// it, issues, and writes both as PEM files named after `label`.
async fn complete(
    engine: &utrust_core::Engine,
    id: utrust_core::domain::ids::ApplicationId,
    label: &str,
    files: &Files,
) -> Result<DemoCertificate, DemoError> {
    let admin = Actor::Admin("demo".into());
    let template = engine.request_template(id).await?;
    let key = SoftwareKey::generate(template.key_algorithm)?;
    let csr = build_request(&template, &key)?;
    let csr_path = files.requests.join(format!("{label}.csr.pem"));
    std::fs::write(&csr_path, to_pem("CERTIFICATE REQUEST", &csr)).map_err(io(&csr_path))?;
    engine.attach_csr(id, &csr, admin.clone()).await?;
    let cert = engine.issue(id, admin).await?;
    let path = files
        .certificates
        .join(format!("{label}-{}.pem", cert.serial));
    std::fs::write(&path, to_pem("CERTIFICATE", &cert.der)).map_err(io(&path))?;
    let app = engine.application(id).await?;
    Ok(DemoCertificate {
        applicant_kind: app.applicant_kind().as_str().into(),
        application_id: id.to_string(),
        status: app.status.to_string(),
        certificate_status: "valid".into(),
        serial: cert.serial.to_string(),
        subject: cert.subject,
        path,
        request: csr_path,
    })
}

fn serial_of(c: &DemoCertificate) -> Result<SerialNumber, DemoError> {
    Ok(SerialNumber::parse(&c.serial)?)
}

/// Counters of the demo point.
#[derive(Debug, Serialize)]
pub struct DemoPoint {
    /// Point id.
    pub id: String,
    /// Limit.
    pub limit: i64,
    /// Issued.
    pub issued: u32,
    /// Remaining (`null` when unlimited).
    pub remaining: Option<u32>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Empties a previous demo directory, or claims a new/empty one.
fn prepare(dir: &Path) -> Result<(), DemoError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        let empty = entries.next().is_none();
        if !empty {
            if !dir.join(MARKER).exists() {
                return Err(DemoError::NotADemoDir(dir.to_owned()));
            }
            std::fs::remove_dir_all(dir).map_err(io(dir))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let marker = dir.join(MARKER);
    std::fs::write(&marker, "made by utrust-server demo; safe to delete\n").map_err(io(&marker))?;
    Ok(())
}

fn oids(list: &[&str]) -> Result<Vec<Oid>, DemoError> {
    Ok(list
        .iter()
        .map(|o| Oid::parse(o))
        .collect::<Result<_, _>>()?)
}

fn owner(
    surname: &str,
    given: &str,
    patronymic: &str,
    snils: &str,
    inn: &str,
    email: &str,
    position: Option<&str>,
) -> Result<CertificateOwner, DemoError> {
    Ok(CertificateOwner {
        surname: surname.into(),
        given_name: given.into(),
        patronymic: Some(patronymic.into()),
        snils: Snils::parse(snils)?,
        inn: Inn::parse(inn)?,
        email: Email::parse(email)?,
        birth_date: Some(date!(1985 - 04 - 12)),
        passport: Some(Passport {
            document: PassportRf::parse("4510", "123456", "770-001")?,
            issued_on: date!(2015 - 06 - 01),
        }),
        position: position.map(Into::into),
    })
}

fn moscow(street: &str) -> Result<Address, DemoError> {
    Ok(Address {
        region_code: Some(RegionCode::parse("77")?),
        region_name: Some("г. Москва".into()),
        locality: Some("Москва".into()),
        street: Some(street.into()),
        kladr: Some("7700000000000".into()),
    })
}

/// The factory PINs of the demo's blank token (a device type's defaults).
const FACTORY_SO_PIN: &str = "87654321";
const FACTORY_USER_PIN: &str = "12345678";
/// Label of the blank token as delivered, and after issuance.
const BLANK_LABEL: &str = "utrust-demo-blank";
const TOKEN_LABEL: &str = "utrust-demo";

/// Writes `DIR/softhsm2.conf` with its token directory `DIR/softhsm-tokens`.
fn write_softhsm_conf(conf: &Path) -> Result<(), DemoError> {
    let root = conf.parent().unwrap_or(Path::new("."));
    let tokens = root.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens).map_err(io(&tokens))?;
    let text = format!(
        "# SoftHSM2 configuration of the utrust demo's token\n\
         directories.tokendir = {}\n\
         objectstore.backend = file\n\
         log.level = ERROR\n\
         slots.removable = false\n",
        tokens.display()
    );
    std::fs::write(conf, text).map_err(io(conf))
}

/// The demo's device: a blank SoftHSM2 token "as delivered" (factory PINs),
/// issued to a user in self-service through the engine: a device type with
/// the factory PINs, a policy (self-issue, initialise on issue, a random
/// 8-digit user PIN shown once, crypto-means accounting) assigned to the
/// user's group, the user's directory profile; the token is initialised, the
/// key generated on it, the request signed there, the certificate issued and
/// written back next to the key.
async fn issue_device(
    engine: &utrust_core::Engine,
    setup: &DeviceSetup,
    desk: &IssuingPoint,
    service: &Service,
    dir: &Path,
) -> Result<DemoDevice, DemoError> {
    use utrust_core::domain::agents::UserAccount;
    use utrust_core::domain::devices::{
        AccountingDocument, DevicePolicy, DeviceTemplate, DeviceType, PinAlphabet, PinArea,
        PinDelivery, PolicyTarget, RandomPin,
    };
    use utrust_core::domain::ids::UserId;
    use utrust_core::domain::profile::{OwnerEdits, UserProfile};
    use utrust_core::engine::{DeviceIssueRequest, DeviceIssueStage};

    let (module, conf) = match setup {
        DeviceSetup::SoftHsm { module, conf } => (module, conf),
        DeviceSetup::Skipped(reason) => {
            return Ok(DemoDevice::Skipped {
                skipped: reason.clone(),
            });
        }
    };
    write_softhsm_conf(conf)?;
    let pkcs11 = utrust_device::Pkcs11Module::open(module)?;
    // The device as the support desk hands it out: formatted with factory PINs.
    let so = utrust_device::Pin::new(FACTORY_SO_PIN);
    let blank = pkcs11.init_token("", &so, BLANK_LABEL)?;
    pkcs11
        .session(&blank.serial)?
        .init_user_pin(&so, &utrust_device::Pin::new(FACTORY_USER_PIN))?;
    let engine = engine
        .clone()
        .with_tokens(std::sync::Arc::new(pkcs11.clone()));

    engine
        .put_device_type(DeviceType {
            name: "softhsm2-demo".into(),
            model: "SoftHSM v2".into(),
            areas: vec![PinArea {
                name: "pki".into(),
                gost: false,
                default_admin_pin: Some(FACTORY_SO_PIN.into()),
                default_user_pin: Some(FACTORY_USER_PIN.into()),
                min_user_pin_length: 6,
            }],
        })
        .await?;
    engine
        .put_device_policy(DevicePolicy {
            name: "self-service".into(),
            self_issue_allowed: true,
            max_devices_per_user: 1,
            secret_questions: 0,
            secret_questions_required: false,
            initialize_on_issue: true,
            random_user_pin: Some(RandomPin {
                length: 8,
                alphabet: PinAlphabet::Digits,
                delivery: PinDelivery::ShowOnce,
            }),
            templates: vec![DeviceTemplate {
                name: "employee".into(),
                service_id: service.id,
                qualified: false,
            }],
            point_id: Some(desk.id),
            smev_for_qualified: false,
            smev_data_editable: false,
            crypto_accounting: true,
        })
        .await?;
    engine
        .assign_device_policy(PolicyTarget::Group("staff".into()), Some("self-service"))
        .await?;
    let user = engine
        .create_user(UserAccount {
            id: UserId::from_random_bytes([0; 16]),
            username: "smirnov".into(),
            password_hash: String::new(),
            active: true,
            staff: false,
            superuser: false,
            groups: vec!["staff".into()],
            permissions: vec![],
        })
        .await?;
    let person = owner(
        "Смирнов",
        "Алексей",
        "Викторович",
        "112-233-445 95",
        "500100732259",
        "smirnov@example.ru",
        None,
    )?;
    engine
        .put_user_profile(UserProfile {
            surname: Some(person.surname),
            given_name: Some(person.given_name),
            patronymic: person.patronymic,
            snils: Some(person.snils),
            inn: Some(person.inn),
            email: Some(person.email),
            birth_date: person.birth_date,
            passport: person.passport,
            ..UserProfile::empty(user.id)
        })
        .await?;
    let outcome = engine
        .issue_device(
            user.id,
            DeviceIssueRequest {
                token: BLANK_LABEL.into(),
                device_type: "softhsm2-demo".into(),
                template: "employee".into(),
                name: Some(TOKEN_LABEL.into()),
                pins: vec![],
                document: Some(AccountingDocument {
                    number: "СКЗИ-1/2026".into(),
                    date: date!(2026 - 01 - 15),
                }),
                owner: OwnerEdits::default(),
            },
        )
        .await?;
    let DeviceIssueStage::Issued { certificate } = &outcome.stage else {
        return Ok(DemoDevice::Skipped {
            skipped: "the demo's device issuance awaits a decision (a bug in the demo)".into(),
        });
    };
    let cert = engine.certificate(certificate).await?;
    let path = dir.join("device-certificate.pem");
    std::fs::write(&path, to_pem("CERTIFICATE", &cert.der)).map_err(io(&path))?;
    let device = &outcome.device;
    let token_label = pkcs11.find_token(&device.serial)?.label;
    let user_pin = outcome
        .user_pin
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    Ok(DemoDevice::Issued(Box::new(DemoIssuedDevice {
        module: module.clone(),
        softhsm2_conf: conf.clone(),
        token_label,
        user_pin,
        serial: device.serial.clone(),
        key_id: device.key_id.clone().unwrap_or_default(),
        device_id: device.id.to_string(),
        status: format!("{:?}", device.status).to_lowercase(),
        certificate_serial: certificate.to_string(),
        certificate: path,
    })))
}

/// Runs the demo in `dir`; the device goes where `device` says.
///
/// # Errors
/// [`DemoError`].
pub async fn run(dir: &Path, device: &DeviceSetup) -> Result<DemoSummary, DemoError> {
    prepare(dir)?;
    let (engine, data) = embedded_engine(dir).await?;
    let admin = Actor::Admin("demo".into());

    // Catalog.
    let mut kep = Product::new("KEP", "Квалифицированная электронная подпись");
    kep.price_kopecks = 290_000;
    kep.oids = OidSet {
        common: oids(&["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4", "1.2.643.2.2.34.6"])?,
        legal_entity: oids(&["1.2.643.100.2.2"])?,
        individual: oids(&["1.2.643.100.2.1"])?,
        sole_proprietor: oids(&["1.2.643.100.2.1"])?,
    };
    let kep = engine.create_product(kep).await?;
    let mut etp = Product::new("ETP", "Работа на электронных торговых площадках");
    etp.quantity_accounting = true;
    etp.oids = OidSet {
        common: oids(&["1.2.643.6.3"])?,
        legal_entity: oids(&["1.2.643.6.3.1.2.1"])?,
        individual: oids(&["1.2.643.6.3.1.2.2"])?,
        sole_proprietor: oids(&["1.2.643.6.3.1.2.3"])?,
    };
    let etp = engine.create_product(etp).await?;

    // Agent network.
    let mut org = Organization::new("ООО «Агент УЦ»");
    org.inn = Some(AnyInn::parse("7802668116")?);
    let org = engine.create_organization(org).await?;
    let branch = engine
        .create_branch(Branch::new(org.id, "Московский филиал"))
        .await?;
    let mut point = IssuingPoint::new(
        PointParent::Branch(branch.id),
        "Точка выдачи «Тверская»",
        Email::parse("tverskaya@agent.example.ru")?,
        Allotment::Finite(10),
    );
    point.region = "77".into();
    point
        .quantities
        .insert(etp.id, Quota::new(Allotment::Finite(5)));
    let point = engine.create_point(point).await?;

    let mut service = Service::new("Выпуск КЭП");
    service.renewal_reminders = true;
    service.revoke_superseded_on_renewal = true;
    service.products = vec![kep.id, etp.id];
    service.points = vec![point.id];
    let service = engine.create_service(service).await?;

    let applicants = [
        (
            ApplicantKind::Individual,
            Account::Individual,
            owner(
                "Иванов",
                "Иван",
                "Иванович",
                "112-233-445 95",
                "500100732259",
                "ivanov@example.ru",
                None,
            )?,
            "ул. Тверская, д. 1",
        ),
        (
            ApplicantKind::SoleProprietor,
            Account::SoleProprietor {
                ogrnip: Ogrnip::parse("304770200100005")?,
            },
            owner(
                "Петров",
                "Пётр",
                "Петрович",
                "64270954807",
                "561100409545",
                "petrov@example.ru",
                None,
            )?,
            "ул. Арбат, д. 10",
        ),
        (
            ApplicantKind::LegalEntity,
            Account::LegalEntity {
                name: "ООО «Ромашка»".into(),
                inn: InnLe::parse("7707083893")?,
                kpp: Some(Kpp::parse("770701001")?),
                ogrn: Ogrn::parse("1027700132195")?,
            },
            owner(
                "Сидорова",
                "Анна",
                "Сергеевна",
                "123-456-789 64",
                "773612345650",
                "sidorova@romashka.example.ru",
                Some("Генеральный директор"),
            )?,
            "ул. Ленина, д. 5, оф. 3",
        ),
    ];

    let requests_dir = dir.join("requests");
    let certs_dir = dir.join("certificates");
    for d in [&requests_dir, &certs_dir] {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    let files = Files {
        requests: requests_dir,
        certificates: certs_dir,
    };
    let mut issued = Vec::new();
    for (kind, account, owner, street) in applicants {
        let app = engine
            .submit(
                NewApplication {
                    service_id: service.id,
                    point_id: point.id,
                    products: vec![kep.id, etp.id],
                    account,
                    owner,
                    address: moscow(street)?,
                    renewal_notice: true,
                },
                admin.clone(),
            )
            .await?;
        issued.push(complete(&engine, app.id, kind.as_str(), &files).await?);
    }

    // After issuance: renew the individual's certificate (the service revokes the
    // renewed one as superseded), suspend and resume the sole proprietor's, revoke
    // the legal entity's, and put a second individual's certificate on hold.
    let renewal = engine.renew(&serial_of(&issued[0])?, admin.clone()).await?;
    let renewed = complete(&engine, renewal.id, "individual-renewed", &files).await?;
    let sole_proprietor = serial_of(&issued[1])?;
    engine.suspend(&sole_proprietor, admin.clone()).await?;
    engine.resume(&sole_proprietor, admin.clone()).await?;
    let legal_entity = serial_of(&issued[2])?;
    engine
        .revoke(
            &legal_entity,
            RevocationReason::KeyCompromise,
            admin.clone(),
        )
        .await?;
    let second = engine
        .submit(
            NewApplication {
                service_id: service.id,
                point_id: point.id,
                products: vec![kep.id],
                account: Account::Individual,
                owner: owner(
                    "Кузнецова",
                    "Мария",
                    "Павловна",
                    "64270954807",
                    "770100000142",
                    "kuznetsova@example.ru",
                    None,
                )?,
                address: moscow("ул. Пушкина, д. 2")?,
                renewal_notice: false,
            },
            admin.clone(),
        )
        .await?;
    let held = complete(&engine, second.id, "individual-held", &files).await?;
    engine.suspend(&serial_of(&held)?, admin.clone()).await?;
    let lifecycle = DemoLifecycle {
        renewed: serial_of(&issued[0])?.to_string(),
        renewal: renewed.serial.clone(),
        resumed: sole_proprietor.to_string(),
        revoked: legal_entity.to_string(),
        suspended: held.serial.clone(),
    };
    issued.push(renewed);
    issued.push(held);
    for c in &mut issued {
        let serial = serial_of(c)?;
        c.certificate_status = engine.certificate(&serial).await?.status.name().into();
    }
    // Self-service: a token issued to a user at a point of its own (the main
    // point's counters stay those of the applications above).
    let mut desk = IssuingPoint::new(
        PointParent::Branch(branch.id),
        "Самообслуживание",
        Email::parse("selfservice@agent.example.ru")?,
        Allotment::Unlimited,
    );
    desk.region = "77".into();
    let desk = engine.create_point(desk).await?;
    let mut tokens = Service::new("Выпуск ключевых носителей");
    tokens.products = vec![kep.id];
    tokens.points = vec![desk.id];
    let tokens = engine.create_service(tokens).await?;
    let device = issue_device(&engine, device, &desk, &tokens, dir).await?;
    if let DemoDevice::Skipped { skipped } = &device {
        eprintln!("demo: no device issued: {skipped}");
    }
    let crl = engine.publish_crl().await?;
    let crl_path = dir.join("crl.pem");
    std::fs::write(&crl_path, to_pem("X509 CRL", &crl.der)).map_err(io(&crl_path))?;

    let ca_path = dir.join("ca.pem");
    std::fs::write(
        &ca_path,
        to_pem("CERTIFICATE", &engine.ca_certificate_der()),
    )
    .map_err(io(&ca_path))?;
    let p = engine.point(point.id).await?;
    Ok(DemoSummary {
        ca_certificate: ca_path,
        certificates: issued.iter().map(|c| c.path.clone()).collect(),
        requests: issued.iter().map(|c| c.request.clone()).collect(),
        database: data.database(),
        crl: crl_path,
        crl_number: crl.number,
        lifecycle,
        issued,
        point: DemoPoint {
            id: p.id.to_string(),
            limit: p.limit.allotment.to_wire(),
            issued: p.limit.issued,
            remaining: p.limit.remaining(),
        },
        device,
    })
}

/// Prints a human summary.
pub fn print_human(s: &DemoSummary) {
    println!("utrust demo: issued {} certificates", s.issued.len());
    println!("  CA certificate: {}", s.ca_certificate.display());
    for c in &s.issued {
        println!(
            "  {:<16} {:<10} serial {}  {}\n  {:<27} {}",
            c.applicant_kind,
            c.certificate_status,
            c.serial,
            c.path.display(),
            "",
            c.subject
        );
    }
    println!("  CRL #{}: {}", s.crl_number, s.crl.display());
    println!(
        "  point: limit {}, issued {}, remaining {}",
        s.point.limit,
        s.point.issued,
        s.point
            .remaining
            .map_or("unlimited".to_owned(), |r| r.to_string())
    );
    println!(
        "  check: openssl verify -crl_check -CAfile {} -CRLfile {} CERT.pem",
        s.ca_certificate.display(),
        s.crl.display()
    );
    match &s.device {
        DemoDevice::Issued(d) => {
            println!(
                "  device: SoftHSM2 token {:?} (serial {}), certificate {} next to key {}",
                d.token_label, d.serial, d.certificate_serial, d.key_id
            );
            println!(
                "  inspect: SOFTHSM2_CONF={} pkcs11-tool --module {} --token-label {} --login --pin {} -O",
                d.softhsm2_conf.display(),
                d.module.display(),
                d.token_label,
                d.user_pin
            );
        }
        DemoDevice::Skipped { skipped } => println!("  device: skipped ({skipped})"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_device_is_skipped_only_when_the_default_module_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("libsofthsm2.so");
        // A fresh machine: no SoftHSM2 at the default path → skipped, with why.
        match device_setup_with(tmp.path(), None, &missing).unwrap() {
            DeviceSetup::Skipped(reason) => {
                assert!(reason.contains("libsofthsm2.so"), "{reason}");
                assert!(reason.contains("apt install softhsm2"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // A module the operator names must exist.
        assert!(matches!(
            device_setup_with(tmp.path(), Some(&missing), &missing),
            Err(DemoError::ModuleMissing(p)) if p == missing
        ));
        // Present: the configuration is DIR/softhsm2.conf, absolute.
        let present = tmp.path().join("module.so");
        std::fs::write(&present, b"").unwrap();
        let rel = Path::new("some-demo-dir");
        match device_setup_with(rel, None, &present).unwrap() {
            DeviceSetup::SoftHsm { module, conf } => {
                assert_eq!(module, present);
                assert!(conf.is_absolute());
                assert!(conf.ends_with("some-demo-dir/softhsm2.conf"), "{conf:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_softhsm_conf_points_at_the_demo_token_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("softhsm2.conf");
        write_softhsm_conf(&conf).unwrap();
        let text = std::fs::read_to_string(&conf).unwrap();
        let tokens = tmp.path().join("softhsm-tokens");
        assert!(tokens.is_dir());
        assert!(
            text.contains(&format!("directories.tokendir = {}", tokens.display())),
            "{text}"
        );
        assert!(text.contains("objectstore.backend = file"), "{text}");
    }
}
