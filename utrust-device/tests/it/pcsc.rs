//! PC/SC with pcscd + vpcd + vicc (started by scripts/test).

use std::time::{Duration, Instant};

use utrust_device::pcsc::PcscReaders;
use utrust_device::{AtrTable, VICC_ATR};

#[test]
fn lists_the_virtual_reader_and_the_vicc_atr() {
    if std::env::var("UTRUST_TEST_PCSC").as_deref() != Ok("1") {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true: the PC/SC stack (UTRUST_TEST_PCSC=1) is required");
        }
        eprintln!("SKIPPED: UTRUST_TEST_PCSC is not 1 (scripts/test starts pcscd + vpcd + vicc)");
        return;
    }
    let readers = PcscReaders::establish(AtrTable::builtin()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let found = loop {
        let list = readers.readers().unwrap();
        if let Some(r) = list
            .iter()
            .find(|r| r.name.starts_with("Virtual PCD") && r.card_present)
        {
            break r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no card in a Virtual PCD reader: {list:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(found.atr_hex, VICC_ATR);
    assert_eq!(found.device_type.as_deref(), Some("vsmartcard-vicc"));
    assert!(readers.reader_names().unwrap().contains(&found.name));
}
