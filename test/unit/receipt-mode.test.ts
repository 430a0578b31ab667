// When the gateway pulls Aliyun/Tencent receipts instead of waiting for pushes.
import { describe, expect, it } from 'vitest';
import { chooseReceiptMode, isPrivateHost } from '../../gateway/notifiers/receipt-mode.js';

describe('receipt mode', () => {
  it('pulls without WEBHOOK_KEY, since every callback would be refused', () => {
    expect(chooseReceiptMode({ setting: 'auto', webhookKey: null, publicUrl: 'https://care.example.cn' }).mode).toBe('pull');
  });

  it('pulls when PUBLIC_URL is on a private or loopback address, and waits for pushes on a public one', () => {
    const key = 'k'.repeat(16);
    for (const url of [
      'http://localhost:8080',
      'http://127.0.0.1:8080',
      'http://10.1.2.3',
      'http://192.168.1.5:8080',
      'http://172.20.0.1',
      'http://gateway:8080',
      'http://[::1]:8080',
    ]) {
      expect(chooseReceiptMode({ setting: 'auto', webhookKey: key, publicUrl: url }).mode, url).toBe('pull');
    }
    for (const url of ['https://care.example.cn', 'http://203.0.113.7:8080', 'http://172.32.0.1']) {
      expect(chooseReceiptMode({ setting: 'auto', webhookKey: key, publicUrl: url }).mode, url).toBe('push');
    }
  });

  it('follows SMS_RECEIPTS when it is set', () => {
    expect(chooseReceiptMode({ setting: 'push', webhookKey: null, publicUrl: 'http://localhost' }).mode).toBe('push');
    expect(chooseReceiptMode({ setting: 'pull', webhookKey: 'k'.repeat(16), publicUrl: 'https://care.example.cn' }).mode).toBe('pull');
    expect(isPrivateHost('sms.example.com')).toBe(false);
  });
});
