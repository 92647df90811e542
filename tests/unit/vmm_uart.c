// SPDX-License-Identifier: MIT
/*
 * The 16550A model: what Linux's 8250 driver probes (IER, scratch, FIFO in IIR, loopback
 * modem lines, LSR) and the two interrupts it runs on (THR empty, received data), through
 * the port dispatch as the guest reaches them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uart.h"
#include "vmm.h"

static struct bus bus;

#define COM1 0x3f8

static struct uart u;
static uint8_t sent[64];
static unsigned nsent;
static int irq_level, irq_edges;

static void tx(void *ctx, uint8_t b)
{
	if (nsent < sizeof(sent))
		sent[nsent++] = b;
}

static void set_irq(void *ctx, int level)
{
	if (level && !irq_level)
		irq_edges++;
	irq_level = level;
}

static int setup(void **state)
{
	bus_init(&bus);
	nsent = 0;
	irq_level = irq_edges = 0;
	uart_init(&u, tx, set_irq, NULL);
	return uart_register(&u, &bus);
}

static uint8_t in(int reg)
{
	return (uint8_t)bus_in(&bus, COM1 + reg, 1);
}

static void out(int reg, uint8_t v)
{
	bus_out(&bus, COM1 + reg, 1, v);
}

static void test_probe_registers(void **state)
{
	out(UART_IER, 0);
	assert_int_equal(in(UART_IER), 0);
	out(UART_IER, 0x0f);
	assert_int_equal(in(UART_IER), 0x0f);
	out(UART_IER, 0xff);
	assert_int_equal(in(UART_IER), 0x0f); /* the upper nibble does not exist */
	out(UART_SCR, 0xa5);
	assert_int_equal(in(UART_SCR), 0xa5);
	out(UART_SCR, 0x5a);
	assert_int_equal(in(UART_SCR), 0x5a);
}

static void test_fifo_identifies_16550a(void **state)
{
	assert_int_equal(in(UART_IIR)&0xc0, 0);
	out(UART_FCR, 0xe7);
	assert_int_equal(in(UART_IIR)&0xc0, 0xc0);
	out(UART_FCR, 0);
	assert_int_equal(in(UART_IIR)&0xc0, 0);
}

static void test_lsr_is_never_all_ones(void **state)
{
	uint8_t lsr = in(UART_LSR);

	assert_int_not_equal(lsr, 0xff);
	assert_int_equal(lsr & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(lsr & UART_LSR_DR, 0);
}

static void test_loopback_modem_lines(void **state)
{
	/* The driver's check: MCR = LOOP | OUT2 | RTS must read back as DCD | CTS. */
	out(UART_MCR, UART_MCR_LOOP | 0x0a);
	assert_int_equal(in(UART_MSR)&0xf0, 0x90);
	out(UART_MCR, UART_MCR_LOOP | 0x05); /* DTR, OUT1 -> DSR, RI */
	assert_int_equal(in(UART_MSR)&0xf0, 0x60);
	/* In loopback, THR comes back on RBR instead of going out. */
	out(UART_THR, 'x');
	assert_int_equal(nsent, 0);
	assert_true(in(UART_LSR)&UART_LSR_DR);
	assert_int_equal(in(UART_RBR), 'x');
	out(UART_MCR, 0);
	assert_int_equal(in(UART_MSR)&0xf0, 0xb0);
}

static void test_divisor_latch_is_separate(void **state)
{
	out(UART_IER, 0x05);
	out(UART_LCR, UART_LCR_DLAB | 3);
	out(UART_THR, 0x01); /* DLL: 115200 baud */
	out(UART_IER, 0x00); /* DLM */
	assert_int_equal(in(UART_RBR), 0x01);
	assert_int_equal(in(UART_IER), 0x00);
	out(UART_LCR, 3);
	assert_int_equal(in(UART_IER), 0x05);
	assert_int_equal(nsent, 0);
}

static void test_transmit(void **state)
{
	out(UART_THR, 'o');
	out(UART_THR, 'k');
	assert_int_equal(nsent, 2);
	assert_memory_equal(sent, "ok", 2);
}

static void test_thre_interrupt(void **state)
{
	out(UART_MCR, UART_MCR_OUT2);
	assert_int_equal(irq_level, 0);
	/* Enabling ETBEI with THR empty raises the interrupt at once. */
	out(UART_IER, UART_IER_THRI);
	assert_int_equal(irq_level, 1);
	assert_int_equal(in(UART_IIR)&0x0f, UART_IIR_THRI);
	/* That read cleared the condition. */
	assert_int_equal(irq_level, 0);
	assert_int_equal(in(UART_IIR)&0x0f, UART_IIR_NONE);
	/* Each character sent empties THR again. */
	out(UART_THR, 'a');
	assert_int_equal(irq_level, 1);
	assert_int_equal(irq_edges, 2);
	out(UART_IER, 0);
	assert_int_equal(irq_level, 0);
}

static void test_no_interrupt_without_out2(void **state)
{
	out(UART_IER, UART_IER_THRI | UART_IER_RDI);
	uart_receive(&u, (const uint8_t *)"z", 1);
	assert_int_equal(irq_level, 0);
	out(UART_MCR, UART_MCR_OUT2);
	assert_int_equal(irq_level, 1);
}

static void test_receive_interrupt_and_fifo(void **state)
{
	uint8_t buf[UART_FIFO + 4];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)('a' + i);
	out(UART_MCR, UART_MCR_OUT2);
	out(UART_IER, UART_IER_RDI);
	/* Without the FIFO the receiver holds one byte. */
	assert_int_equal(uart_rx_room(&u), 1);
	out(UART_FCR, 0x07);
	assert_int_equal(uart_rx_room(&u), UART_FIFO);
	assert_int_equal(uart_receive(&u, buf, sizeof(buf)), UART_FIFO);
	assert_int_equal(uart_rx_room(&u), 0);
	assert_int_equal(irq_level, 1);
	/* Received data outranks THR empty. */
	out(UART_IER, UART_IER_RDI | UART_IER_THRI);
	assert_int_equal(in(UART_IIR)&0x0f, UART_IIR_RDI);
	for (unsigned i = 0; i < UART_FIFO; i++) {
		assert_true(in(UART_LSR)&UART_LSR_DR);
		assert_int_equal(in(UART_RBR), buf[i]);
	}
	assert_false(in(UART_LSR)&UART_LSR_DR);
	assert_int_equal(in(UART_IIR)&0x0f, UART_IIR_THRI);
	assert_int_equal(in(UART_IIR)&0x0f, UART_IIR_NONE);
	assert_int_equal(irq_level, 0);
}

static void test_fifo_reset_drops_input(void **state)
{
	out(UART_FCR, 0x01);
	uart_receive(&u, (const uint8_t *)"abc", 3);
	out(UART_FCR, 0x03);
	assert_false(in(UART_LSR)&UART_LSR_DR);
	assert_int_equal(uart_rx_room(&u), UART_FIFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_probe_registers, setup),
		cmocka_unit_test_setup(test_fifo_identifies_16550a, setup),
		cmocka_unit_test_setup(test_lsr_is_never_all_ones, setup),
		cmocka_unit_test_setup(test_loopback_modem_lines, setup),
		cmocka_unit_test_setup(test_divisor_latch_is_separate, setup),
		cmocka_unit_test_setup(test_transmit, setup),
		cmocka_unit_test_setup(test_thre_interrupt, setup),
		cmocka_unit_test_setup(test_no_interrupt_without_out2, setup),
		cmocka_unit_test_setup(test_receive_interrupt_and_fifo, setup),
		cmocka_unit_test_setup(test_fifo_reset_drops_input, setup),
	};
	return cmocka_run_group_tests_name("vmm_uart", tests, NULL, NULL);
}
