//! PC/SC readers through `pcsc` (feature `pcsc`; links libpcsclite and needs a
//! running `pcscd`).
//!
//! [`PcscReaders::establish`] connects to the resource manager; [`PcscReaders::readers`]
//! lists every reader with card presence and the ATR (read with
//! `SCardGetStatusChange`, without connecting to the card) and maps the ATR to a
//! device type with an [`AtrTable`].

use std::ffi::CString;
use std::time::Duration;

use pcsc::{Context, ReaderState, Scope, State};

use crate::DeviceError;
use crate::atr::{AtrTable, atr_hex};

fn pc(operation: &str, e: pcsc::Error) -> DeviceError {
    DeviceError::device(operation, e.to_string())
}

/// A reader and what is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderStatus {
    /// The reader name (e.g. `Virtual PCD 00 00`).
    pub name: String,
    /// A card is present.
    pub card_present: bool,
    /// The card's ATR (empty without a card).
    pub atr: Vec<u8>,
    /// The ATR as hex (`3B 95 13 …`).
    pub atr_hex: String,
    /// The device type from the [`AtrTable`], if the ATR is known.
    pub device_type: Option<String>,
}

/// A connection to the PC/SC resource manager.
pub struct PcscReaders {
    ctx: Context,
    table: AtrTable,
}

impl core::fmt::Debug for PcscReaders {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PcscReaders")
            .field("atr_entries", &self.table.entries().len())
            .finish_non_exhaustive()
    }
}

impl PcscReaders {
    /// Connects to `pcscd` (`SCardEstablishContext`, user scope).
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `SCardEstablishContext` (e.g. the service is
    /// not running).
    pub fn establish(table: AtrTable) -> Result<Self, DeviceError> {
        let ctx = Context::establish(Scope::User).map_err(|e| pc("SCardEstablishContext", e))?;
        Ok(Self { ctx, table })
    }

    /// The ATR table in use.
    pub fn atr_table(&self) -> &AtrTable {
        &self.table
    }

    /// Reader names (`SCardListReaders`); none is an empty list.
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `SCardListReaders`.
    pub fn reader_names(&self) -> Result<Vec<String>, DeviceError> {
        match self.ctx.list_readers_owned() {
            Ok(names) => Ok(names
                .into_iter()
                .map(|n| n.to_string_lossy().into_owned())
                .collect()),
            Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(pc("SCardListReaders", e)),
        }
    }

    /// Every reader with card presence, ATR and device type.
    ///
    /// # Errors
    /// [`DeviceError::Device`] naming `SCardListReaders` or `SCardGetStatusChange`.
    pub fn readers(&self) -> Result<Vec<ReaderStatus>, DeviceError> {
        let names = self.reader_names()?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut states = Vec::with_capacity(names.len());
        for n in &names {
            let c = CString::new(n.as_str())
                .map_err(|e| DeviceError::device("SCardGetStatusChange", e.to_string()))?;
            states.push(ReaderState::new(c, State::UNAWARE));
        }
        match self
            .ctx
            .get_status_change(Duration::from_millis(0), &mut states)
        {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(pc("SCardGetStatusChange", e)),
        }
        Ok(states
            .iter()
            .map(|s| {
                let present = s.event_state().contains(State::PRESENT);
                let atr = if present {
                    s.atr().to_vec()
                } else {
                    Vec::new()
                };
                ReaderStatus {
                    name: s.name().to_string_lossy().into_owned(),
                    card_present: present,
                    atr_hex: atr_hex(&atr),
                    device_type: self.table.device_type(&atr).map(str::to_owned),
                    atr,
                }
            })
            .collect())
    }
}
