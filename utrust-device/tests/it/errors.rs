//! PIN errors, locked PINs, PIN changes, missing tokens.

use utrust_core::ports::TokenError;
use utrust_device::{DeviceError, KeyGenSpec, Pin};

use crate::support::isolated;

fn token(env: &crate::support::Isolated) -> (utrust_device::Pkcs11Module, String) {
    let module = env.module();
    let t = module
        .init_token("", &Pin::new("87654321"), "pins")
        .unwrap();
    let s = module.session(&t.serial).unwrap();
    s.init_user_pin(&Pin::new("87654321"), &Pin::new("123456"))
        .unwrap();
    (module, t.serial)
}

#[test]
fn wrong_pin_then_locked() {
    let Some(env) = isolated("errors::wrong_pin_then_locked") else {
        return;
    };
    let (module, serial) = token(&env);
    let session = module.session(&serial).unwrap();
    let wrong = Pin::new("000000");
    let first = session.login_user(&wrong).unwrap_err();
    assert!(
        matches!(first, DeviceError::PinIncorrect { .. }),
        "{first:?}"
    );
    assert!(matches!(
        TokenError::from(first.clone()),
        TokenError::PinIncorrect { .. }
    ));
    let st = session.token().unwrap().user_pin;
    eprintln!("after one wrong PIN: {first:?}, flags {st:?}");
    // Keep trying. A real token (Rutoken: 10 tries) locks the PIN; SoftHSM2
    // 2.6.1 has no retry counter: it only raises CKF_USER_PIN_COUNT_LOW and
    // never locks. Both behaviours are checked.
    let mut seen = vec![first];
    for _ in 0..20 {
        let e = session.login_user(&wrong).unwrap_err();
        let locked = e == DeviceError::PinLocked;
        seen.push(e);
        if locked {
            break;
        }
    }
    if seen.last() == Some(&DeviceError::PinLocked) {
        assert!(session.token().unwrap().user_pin.locked);
        // Locked means locked: the right PIN does not help…
        assert_eq!(
            session.login_user(&Pin::new("123456")).unwrap_err(),
            DeviceError::PinLocked
        );
        // …until the SO resets it.
        session
            .init_user_pin(&Pin::new("87654321"), &Pin::new("654321"))
            .unwrap();
        session.login_user(&Pin::new("654321")).unwrap();
    } else {
        // SoftHSM2: 21 wrong PINs, each PinIncorrect with the count-low flag,
        // no exact count, never locked; the right PIN still works.
        assert!(
            seen.iter().all(|e| matches!(
                e,
                DeviceError::PinIncorrect {
                    retries_left: None,
                    count_low: true
                }
            )),
            "{seen:?}"
        );
        let st = session.token().unwrap().user_pin;
        assert!(st.count_low && !st.locked && !st.final_try, "{st:?}");
        session.login_user(&Pin::new("123456")).unwrap();
        eprintln!(
            "SoftHSM2 does not lock the user PIN; flags after a good login: {:?}",
            session.token().unwrap().user_pin
        );
    }
    assert_eq!(
        TokenError::from(DeviceError::PinLocked),
        TokenError::PinLocked
    );
}

#[test]
fn change_pin_and_missing_token() {
    let Some(env) = isolated("errors::change_pin_and_missing_token") else {
        return;
    };
    let (module, serial) = token(&env);
    let session = module.session(&serial).unwrap();
    let err = session
        .change_user_pin(&Pin::new("999999"), &Pin::new("111111"))
        .unwrap_err();
    assert!(matches!(err, DeviceError::PinIncorrect { .. }), "{err:?}");
    session
        .change_user_pin(&Pin::new("123456"), &Pin::new("11112222"))
        .unwrap();
    assert!(matches!(
        session.login_user(&Pin::new("123456")),
        Err(DeviceError::PinIncorrect { .. })
    ));
    session.login_user(&Pin::new("11112222")).unwrap();
    // Key generation without login fails naming the function.
    session.logout().unwrap();
    let err = session.generate_key_pair(&KeyGenSpec::p256()).unwrap_err();
    assert!(
        matches!(&err, DeviceError::Device { operation, .. } if operation == "C_GenerateKeyPair"),
        "{err:?}"
    );
    match TokenError::from(err) {
        TokenError::Device { operation, .. } => assert_eq!(operation, "C_GenerateKeyPair"),
        other => panic!("{other:?}"),
    }
    // Missing tokens.
    assert_eq!(
        module.find_token("no-such-token").unwrap_err(),
        DeviceError::NotPresent("no-such-token".into())
    );
    assert!(matches!(
        module.session("no-such-token"),
        Err(DeviceError::NotPresent(_))
    ));
    assert_eq!(
        TokenError::from(DeviceError::NotPresent("x".into())),
        TokenError::NotPresent("x".into())
    );
    // A module that is not there.
    assert!(matches!(
        utrust_device::Pkcs11Module::open("/nonexistent/libpkcs11.so"),
        Err(DeviceError::Module { .. })
    ));
}
