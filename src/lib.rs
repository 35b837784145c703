pub use inception; pub use augment; pub use transfer;
